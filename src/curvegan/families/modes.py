"""The mode-collapse test bed on curves (data=modes): quadratic curves whose a comes from an equal-weight mixture
of narrow normals N(centre, mode_std²), so a collapse shows as curves missing from the picture.

Besides the curves' shape_rmse, a_std and a_w1 (against the mixture, by its quantile function), as VEEGAN and
PacGAN score their mixtures of Gaussians:
- hq_fraction: the share of curves whose a* lies within 3·mode_std of its nearest centre (≤) and whose own
  fit RMSE is at most HQ_RESIDUAL ("high quality");
- modes_captured: the centres that are the nearest centre of at least n/(5·M) high-quality curves;
- pacgan_modes: the centres that hold at least one high-quality curve (PacGAN's own count: families/ring.py);
- mode_kl: KL(p ‖ uniform) in nats, p the share of each centre among the high-quality curves (NaN, written as
  null, when no curve is high quality).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.families import given_one, unscorable
from curvegan.families.quadratic import QuadraticCurves
from curvegan.keys import Rule, key, number
from curvegan.metrics import MODE_METRICS, mode_coverage

HQ_RESIDUAL = 0.05  # a high-quality curve is at most this far (RMSE) from the nearest real curve
CENTRES = Rule(
    lambda v: len(v) >= 1 and all(isinstance(c, int | float) and abs(c) <= 1e3 for c in v),
    "a list of one or more numbers in [-1000, 1000] (the centres of the modes of a)",
    [],
    over=[1000.5],
)


@dataclass
class Modes(QuadraticCurves):
    """a from an equal-weight mixture of normals N(centre, mode_std²), one per centre of `modes`."""

    name: ClassVar[str] = "modes"
    metrics: ClassVar = (*QuadraticCurves.metrics, *MODE_METRICS)
    shown: ClassVar = ("modes_captured", "hq_fraction", "mode_kl")

    modes: list[float] = key(
        [1.0, 1.142857, 1.285714, 1.428571, 1.571429, 1.714286, 1.857143, 2.0],
        CENTRES,
        "the centres of the modes of a (default: 8 evenly on [1, 2])",
    )
    mode_std: float = key(0.01, number(above=0, below=10), "each mode's standard deviation")

    QUANTILE_POINTS: ClassVar[int] = 2**16  # G⁻¹ tabulated at this many midpoints of [0, 1]: W1 to well within 1e-3

    @cached_property
    def centres(self) -> Tensor:
        return torch.tensor(sorted(self.modes), dtype=torch.float64)

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        which = torch.randint(len(self.centres), shape, generator=generator)
        return (self.centres.float()[which] + self.mode_std * torch.randn(shape, generator=generator)).float()

    @property
    def std(self) -> float:
        """The mixture's standard deviation: the centres' spread and each mode's own."""
        return math.sqrt(self.centres.var(unbiased=False).item() + self.mode_std**2)

    def parameter_range(self) -> tuple[float, float]:
        return float(self.centres[0]) - 3 * self.mode_std, float(self.centres[-1]) + 3 * self.mode_std

    def parameter_modes(self) -> list[tuple[float, float]]:
        spread = 3 * self.mode_std
        return [(c - spread, c + spread) for c in self.centres.tolist()]

    def describe_a(self) -> str:
        return f"a from {len(self.modes)} modes of std {self.mode_std:g}"

    def cdf(self, a: Tensor) -> Tensor:
        z = (a.double().unsqueeze(-1) - self.centres.to(a.device)) / (self.mode_std * math.sqrt(2))
        return (0.5 * (1 + torch.erf(z))).mean(dim=-1)

    @cached_property
    def quantiles(self) -> Tensor:
        """G⁻¹ at the midpoints of QUANTILE_POINTS equal pieces of [0, 1], by bisection on the CDF (float64)."""
        u = (torch.arange(self.QUANTILE_POINTS, dtype=torch.float64) + 0.5) / self.QUANTILE_POINTS
        low = torch.full_like(u, float(self.centres[0]) - 10 * self.mode_std)
        high = torch.full_like(u, float(self.centres[-1]) + 10 * self.mode_std)
        for _ in range(60):
            mid = (low + high) / 2
            below = self.cdf(mid) < u
            low, high = torch.where(below, mid, low), torch.where(below, high, mid)
        return (low + high) / 2

    def w1(self, a: Tensor, k: int = 0) -> Tensor:
        """W1 between the empirical distribution of a [..., n] and the mixture: [...], ∫₀¹ |F⁻¹(u) − G⁻¹(u)| du by
        the midpoint rule on QUANTILE_POINTS pieces (F⁻¹ is exact at every point)."""
        c = a.double().sort(dim=-1).values
        n = c.shape[-1]
        g = self.quantiles.to(c.device)
        rank = ((torch.arange(len(g), device=c.device) + 0.5) * n / len(g)).long()  # F⁻¹ at each midpoint
        return (c[..., rank] - g).abs().mean(dim=-1).float()

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        """Modes of a whose scores would mean nothing (duplicate or overlapping centres within the scoring
        distance, a mode_std float32 cannot hold) are refused, naming the key the user gave."""
        from curvegan.errors import given_keys

        problem = unscorable(torch.tensor(list(node.modes), dtype=torch.float64)[:, None], node.mode_std, 3.0)
        if problem is None:
            return None
        kind, allowed = problem
        name = "data.mode_std" if kind == "std" else given_one(["data.modes", "data.mode_std"], given_keys())
        return name, list(node.modes) if name == "data.modes" else node.mode_std, allowed

    def assign(self, a: Tensor, residual: Tensor) -> tuple[Tensor, Tensor]:
        """(each curve's nearest mode, whether it is high quality), [..., n] each, from its fitted a and RMSE."""
        distance = (a.unsqueeze(-1) - self.centres.to(a)).abs()  # [..., n, M]
        nearest_distance, nearest = distance.min(dim=-1)
        return nearest, (nearest_distance <= 3 * self.mode_std) & (residual <= HQ_RESIDUAL)

    def mode_quality(self, a: Tensor, residual: Tensor) -> dict[str, Tensor]:
        return mode_coverage(*self.assign(a, residual), len(self.centres))

    def mode_counts(self, samples: Tensor) -> Tensor:
        curves = samples.detach().float()
        fitted = self.fit_parameters(curves)  # as `quality` fits them
        nearest, good = self.assign(fitted[..., 0], self.residuals(curves, fitted))
        return torch.bincount(nearest[good], minlength=len(self.centres))

    def mode_labels(self) -> list[str]:
        return [f"a {c:.2f}" for c in self.centres.tolist()]
