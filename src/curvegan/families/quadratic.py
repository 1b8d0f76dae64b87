"""The seed's data: quadratic curves y = a·x² + (a−1) on `num_points` evenly spaced x of [-1, 1], a ~ U(a_min, a_max).

`Curves` is what every curve family shares (the mode test bed, families/modes.py, draws a otherwise): each
curve is least-squares fitted by the nearest real curve, a*·(x²+1) − 1 (every real curve is exactly that), and
- shape_rmse: the mean over curves of the fit's RMSE: 0 for real curves, so it says how quadratic they are;
- a_w1: the 1-Wasserstein distance between the fitted a* and the family's own distribution of a: how well the
  family is covered (a generator that always draws the middle curve scores 0.25 for U(1, 2));
- a_std: the spread of a* (U(1, 2) has 1/√12 ≈ 0.2887);
- objective: shape_rmse + a_w1, what sweeps minimise;
- collapsed (per member, in metrics.json): a_std below COLLAPSED_BELOW of the family's own spread.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.families import Family
from curvegan.keys import key, number, whole
from curvegan.metrics import OBJECTIVE, declare, w1_to_uniform

SHAPE_RMSE = declare(
    "shape_rmse",
    "lower",
    "mean RMSE of each sample from its nearest real sample of the family: how far off the family's shape",
    headline=True,
    log_scale=True,
)
A_W1 = declare(
    "a_w1", "lower", "1-Wasserstein distance of the fitted a* to the data's a: coverage", headline=True, log_scale=True
)
A_STD = declare("a_std", "", "the spread (standard deviation) of the fitted a*", headline=True)
# A member has collapsed when its curves spread a* less than this share of the data's own spread: for U(1, 2)
# that is a_std < 0.25 against the family's 0.289, a generator covering about 87% of the family.
COLLAPSED_BELOW = 0.866


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
class Curves(Family):
    """Curves y = a·x² + (a−1) on `num_points` evenly spaced x of [-1, 1]; a subclass says how a is drawn."""

    metrics: ClassVar = (SHAPE_RMSE, A_W1, A_STD, OBJECTIVE)
    parameter: ClassVar[str] = "a"
    shown: ClassVar = ("shape_rmse", "a_w1")
    objective_says: ClassVar[str] = "shape_rmse + a_w1"

    sized_by: ClassVar = ("num_points",)

    num_points: int = key(16, whole(3), "points per curve, evenly spaced on [-1, 1] (a parabola needs 3)")

    @property
    def dim(self) -> int:
        return self.num_points

    @cached_property
    def x(self) -> Tensor:
        """The x positions every curve is sampled at."""
        return torch.linspace(-1.0, 1.0, self.num_points)

    @property
    def std(self) -> float:
        """The standard deviation of the family's a."""
        raise NotImplementedError

    def w1(self, a: Tensor) -> Tensor:
        """The 1-Wasserstein distance between the empirical distribution of a [..., n] and the family's: [...]."""
        raise NotImplementedError

    def samples(self, drawn: Tensor) -> Tensor:
        return quadratic_curves(drawn, self.x.to(drawn))  # on its device, in its dtype (trainer.precision)

    def fit_parameter(self, samples: Tensor) -> Tensor:
        return fit_a(samples, self.x)

    def quality(self, samples: Tensor) -> dict[str, Tensor]:
        curves = samples.detach().float()
        a = fit_a(curves, self.x)
        residual = residuals(curves, self.x)
        quality = {"shape_rmse": residual.mean(dim=-1), "a_w1": self.w1(a), "a_std": a.std(dim=-1)}
        quality["objective"] = quality["shape_rmse"] + quality["a_w1"]
        return quality | self.mode_quality(a, residual)

    def mode_quality(self, a: Tensor, residual: Tensor) -> dict[str, Tensor]:
        """What a family in modes adds, from the fitted a [..., n] and the fits' RMSEs [..., n]."""
        return {}

    def collapsed(self, quality: dict[str, Tensor]) -> Tensor:
        return quality["a_std"] < COLLAPSED_BELOW * self.std

    def describe(self) -> str:
        return f"curves y = a·x² + (a−1), {self.describe_a()}"

    def describe_a(self) -> str:
        raise NotImplementedError

    # --- figures: curves as lines over the band of real curves ------------------------------------------

    def background(self, ax) -> None:
        xs = self.x.numpy()
        low, high = quadratic_curves(torch.tensor(self.parameter_range()), self.x).numpy()
        modes = self.parameter_modes()
        ax.fill_between(xs, low, high, color="0.85" if modes is None else "0.93", lw=0, zorder=0)
        for lo_a, hi_a in modes or []:  # each mode's band, outlined above the curves so they cannot hide it
            lo, hi = quadratic_curves(torch.tensor([lo_a, hi_a]), self.x).numpy()
            ax.fill_between(xs, lo, hi, color="0.72", lw=0, zorder=0)
            ax.fill_between(xs, lo, hi, facecolor="none", edgecolor="0.15", lw=0.6, zorder=3)
        span = high.max() - low.min()
        ax.set_xlim(xs[0], xs[-1])
        ax.set_xticks([-1, 0, 1])
        ax.set_ylim(min(low.min(), high.min()) - 0.4 * span, max(high.max(), low.max()) + 0.4 * span)

    def artists(self, ax, n: int, colors: list | None) -> list:
        """One LineCollection of n curves (one artist to redraw, not n)."""
        from matplotlib.collections import LineCollection

        lines = LineCollection([], colors=colors if colors is not None else "tab:blue", alpha=0.55, lw=1.1, zorder=2)
        ax.add_collection(lines, autolim=False)
        return [lines]

    def update(self, artists: list, samples: Tensor) -> None:
        import numpy as np

        curves = samples.numpy()
        xs = np.broadcast_to(self.x.numpy(), curves.shape)
        artists[0].set_segments(np.stack([xs, curves], axis=-1))


@dataclass
class Quadratic(Curves):
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

    def w1(self, a: Tensor) -> Tensor:
        """Exact W1 between the empirical distribution of a [..., n] and U(a_min, a_max): [...]."""
        return w1_to_uniform(a, self.a_min, self.a_max)

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        if node.a_min >= node.a_max:
            return "data.a_min", node.a_min, f"less than data.a_max ({node.a_max})"
        return None
