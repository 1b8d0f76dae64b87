"""The distribution of the curve parameter a: what the data draws, and what a_w1 measures generated curves against.

`Uniform` is the seed's family, U(a_min, a_max). `NormalMixture` is the mode-collapse test bed: an equal-weight
mixture of narrow normals N(centre, std²).
"""

from __future__ import annotations

import math
from functools import cached_property

import torch


class Uniform:
    def __init__(self, low: float, high: float):
        self.low, self.high = low, high

    @property
    def band(self) -> tuple[float, float]:
        """The range of a that holds (nearly) every real curve, for pictures."""
        return self.low, self.high

    @property
    def std(self) -> float:
        return (self.high - self.low) / math.sqrt(12)

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        return torch.empty(shape).uniform_(self.low, self.high, generator=generator)

    def w1(self, a: torch.Tensor) -> torch.Tensor:
        """Exact 1-Wasserstein distance between the empirical distribution of a [..., n] and U(low, high): [...].

        W1 = ∫₀¹ |F⁻¹(u) − G⁻¹(u)| du, where the empirical quantile F⁻¹ is the i-th smallest sample on
        [i/n, (i+1)/n] and the uniform's G⁻¹ is linear there, so each piece integrates in closed form.
        """
        c = a.double().sort(dim=-1).values
        n = c.shape[-1]
        width = self.high - self.low
        g0 = self.low + width * torch.arange(n, dtype=torch.float64, device=c.device) / n  # G⁻¹ at each piece's start
        g1 = g0 + width / n  # ... and at its end
        below, above = c <= g0, c >= g1
        piece = torch.where(below, (g0 + g1) / 2 - c, c - (g0 + g1) / 2)  # |c − mean g|, when c is outside
        # when g crosses c inside the piece, the area is two triangles
        crossing = ((c - g0) ** 2 + (g1 - c) ** 2) / (2 * (g1 - g0))
        piece = torch.where(below | above, piece, crossing)
        return (piece.sum(dim=-1) / n).float()


class NormalMixture:
    """An equal-weight mixture of normals with the given centres and one standard deviation."""

    QUANTILE_POINTS = 2**16  # G⁻¹ is tabulated at this many midpoints of [0, 1]: W1 to well within 1e-3

    def __init__(self, centres: list[float], std: float):
        self.centres = torch.tensor(sorted(centres), dtype=torch.float64)
        self.mode_std = std

    @property
    def std(self) -> float:
        """The mixture's standard deviation: the centres' spread and each mode's own."""
        return math.sqrt(self.centres.var(unbiased=False).item() + self.mode_std**2)

    @property
    def band(self) -> tuple[float, float]:
        return float(self.centres[0]) - 3 * self.mode_std, float(self.centres[-1]) + 3 * self.mode_std

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(self.centres), shape, generator=generator)
        return (self.centres.float()[which] + self.mode_std * torch.randn(shape, generator=generator)).float()

    def cdf(self, a: torch.Tensor) -> torch.Tensor:
        z = (a.double().unsqueeze(-1) - self.centres.to(a.device)) / (self.mode_std * math.sqrt(2))
        return (0.5 * (1 + torch.erf(z))).mean(dim=-1)

    @cached_property
    def quantiles(self) -> torch.Tensor:
        """G⁻¹ at the midpoints of QUANTILE_POINTS equal pieces of [0, 1], by bisection on the CDF (float64)."""
        u = (torch.arange(self.QUANTILE_POINTS, dtype=torch.float64) + 0.5) / self.QUANTILE_POINTS
        low = torch.full_like(u, float(self.centres[0]) - 10 * self.mode_std)
        high = torch.full_like(u, float(self.centres[-1]) + 10 * self.mode_std)
        for _ in range(60):
            mid = (low + high) / 2
            below = self.cdf(mid) < u
            low, high = torch.where(below, mid, low), torch.where(below, high, mid)
        return (low + high) / 2

    def w1(self, a: torch.Tensor) -> torch.Tensor:
        """1-Wasserstein distance between the empirical distribution of a [..., n] and the mixture: [...].

        ∫₀¹ |F⁻¹(u) − G⁻¹(u)| du by the midpoint rule on QUANTILE_POINTS pieces (F⁻¹ is exact at every point).
        """
        c = a.double().sort(dim=-1).values
        n = c.shape[-1]
        g = self.quantiles.to(c.device)
        rank = ((torch.arange(len(g), device=c.device) + 0.5) * n / len(g)).long()  # F⁻¹ at each midpoint
        return (c[..., rank] - g).abs().mean(dim=-1).float()


Family = Uniform | NormalMixture


def make_family(a_min: float, a_max: float, modes: list[float] | None, mode_std: float) -> Family:
    """The data's family of a: the mixture when `modes` are given, else U(a_min, a_max)."""
    if modes:
        return NormalMixture(list(modes), mode_std)
    return Uniform(a_min, a_max)
