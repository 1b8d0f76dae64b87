"""The seed's data: quadratic curves y = a·x² + (a−1) on `num_points` evenly spaced x of [-1, 1], a ~ U(a_min, a_max).

`QuadraticCurves` is what the quadratic families share (the mode test bed, families/modes.py, draws a otherwise):
a one-parameter curve family (curvegan.families.curves) with basis x² + 1 and offset −1, each curve fitted by
the nearest real curve a*·(x²+1) − 1 in closed form. Its metrics are every curve family's for one parameter:
- shape_rmse: the mean over curves of the fit's RMSE: 0 for real curves;
- a_w1: the 1-Wasserstein distance between the fitted a* and the family's own distribution of a: how well the
  family is covered (a generator that always draws the middle curve scores 0.25 for U(1, 2));
- a_std: the spread of a* (U(1, 2) has 1/√12 ≈ 0.2887);
- objective: shape_rmse + a_w1, what sweeps minimise;
- collapsed (per member, in metrics.json): a_std below COLLAPSED_BELOW of the family's own spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.families.curves import Curves, curve_metrics
from curvegan.keys import key, number
from curvegan.metrics import w1_to_uniform


def quadratic_curves(a: Tensor, x: Tensor) -> Tensor:
    """y = a·x² + (a−1) for each a: shape [*a.shape, len(x)]."""
    a = a.unsqueeze(-1)
    return a * x**2 + (a - 1)


def fit_a(curves: Tensor, x: Tensor) -> Tensor:
    """The least-squares a* = ⟨y+1, b⟩ / ⟨b, b⟩ of each curve [..., len(x)] → [...], b = x² + 1."""
    b = x.to(curves) ** 2 + 1
    return (curves + 1) @ b / (b @ b)


def residuals(curves: Tensor, x: Tensor) -> Tensor:
    """Each curve's RMSE from its best fit a*·b − 1: [..., len(x)] → [...]."""
    b = x.to(curves) ** 2 + 1
    fitted = fit_a(curves, x).unsqueeze(-1) * b - 1
    return ((curves - fitted) ** 2).mean(dim=-1).sqrt()


@dataclass
class QuadraticCurves(Curves):
    """Curves y = a·x² + (a−1) on `num_points` evenly spaced x of [-1, 1]; a subclass says how a is drawn."""

    parameters: ClassVar = ("a",)
    metrics: ClassVar = curve_metrics(("a",))
    shown: ClassVar = ("shape_rmse", "a_w1")
    objective_says: ClassVar[str] = "shape_rmse + a_w1"

    @property
    def std(self) -> float:
        """The standard deviation of the family's a."""
        raise NotImplementedError

    def parameter_range(self) -> tuple[float, float]:
        """The range of a that holds (nearly) every real curve."""
        raise NotImplementedError

    def parameter_ranges(self) -> list[tuple[float, float]]:
        return [self.parameter_range()]

    def spreads(self) -> list[float]:
        return [self.std]

    def basis(self, x: Tensor) -> Tensor:
        return (x**2 + 1).unsqueeze(0)

    def offset(self, x: Tensor) -> Tensor:
        return torch.full_like(x, -1.0)

    # the closed forms, as the seed computes them (the general ones would round differently)
    def samples(self, drawn: Tensor) -> Tensor:
        return quadratic_curves(drawn, self.x.to(drawn))  # on its device, in its dtype (trainer.precision)

    def fit_parameters(self, samples: Tensor) -> Tensor:
        return fit_a(samples, self.x).unsqueeze(-1)

    def residuals(self, samples: Tensor, fitted: Tensor) -> Tensor:
        return residuals(samples, self.x)

    def band(self) -> tuple[Tensor, Tensor]:
        low, high = quadratic_curves(torch.tensor(self.parameter_range()), self.x)
        return low, high

    def describe(self) -> str:
        return f"curves y = a·x² + (a−1), {self.describe_a()}"

    def describe_a(self) -> str:
        raise NotImplementedError


@dataclass
class Quadratic(QuadraticCurves):
    """The seed's family: a ~ U(a_min, a_max)."""

    name: ClassVar[str] = "quadratic"

    a_min: float = key(1.0, number(), "the lower end of a's range")
    a_max: float = key(2.0, number(), "the upper end of a's range")

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        return torch.empty(shape).uniform_(self.a_min, self.a_max, generator=generator)

    @property
    def std(self) -> float:
        return (self.a_max - self.a_min) / math.sqrt(12)

    def parameter_range(self) -> tuple[float, float]:
        return self.a_min, self.a_max

    def describe_a(self) -> str:
        return f"a ~ U({self.a_min:g}, {self.a_max:g})"

    def w1(self, a: Tensor, k: int = 0) -> Tensor:
        """Exact W1 between the empirical distribution of a [..., n] and U(a_min, a_max): [...]."""
        return w1_to_uniform(a, self.a_min, self.a_max)

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        if node.a_min >= node.a_max:
            return "data.a_min", node.a_min, f"less than data.a_max ({node.a_max})"
        return None
