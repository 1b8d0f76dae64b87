"""Curve families: each real curve is y = offset(x) + Σₖ pₖ·basisₖ(x) on `num_points` evenly spaced x of [-1, 1],
its parameter vector p = (p₁, …, p_P) drawn from the family's distribution. A family is its basis, its offset
and its parameters' distribution (`draw`, `ranges`, `spreads`, `w1`); everything else comes from here:

- fitting: each curve's least-squares parameters p* (every real curve is fitted exactly), `fit_parameters`;
- shape_rmse: the mean over curves of the fit's RMSE: 0 for real curves, so it says how far off the family's
  shape they are;
- per parameter NAME: NAME_w1, the 1-Wasserstein distance between the fitted NAME* and the family's own
  distribution of NAME (coverage), and NAME_std, the spread of NAME*;
- with two parameters or more, joint_coverage: the share of the parameter box's cells (CELLS per parameter)
  that hold at least n/(5·cells) of the fitted vectors. Per-parameter distances cannot see a generator that
  covers each parameter's range but only some combinations; this can. For vectors drawn from a uniform box its
  exact expectation is P(Binomial(n, 1/cells) ≥ ⌈n/(5·cells)⌉) (`uniform_joint_coverage`);
- objective: shape_rmse + the mean of the NAME_w1, what sweeps minimise;
- collapsed (per member, in metrics.json): some NAME_std below COLLAPSED_BELOW of the family's own spread.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch
from torch import Tensor

from curvegan.families import Family
from curvegan.keys import key, whole
from curvegan.metrics import OBJECTIVE, Metric, declare

SHAPE_RMSE = declare(
    "shape_rmse",
    "lower",
    "mean RMSE of each sample from its nearest real sample of the family: how far off the family's shape",
    headline=True,
    log_scale=True,
)
JOINT_COVERAGE = declare(
    "joint_coverage",
    "higher",
    "share of the parameter box's cells holding at least n/(5·cells) of the fitted parameter vectors",
    headline=True,
)
# A member has collapsed when its curves spread a parameter less than this share of the data's own spread: for
# U(1, 2) that is a_std < 0.25 against the family's 0.289, a generator covering about 87% of the family.
COLLAPSED_BELOW = 0.866
CELLS = 4  # per parameter, for joint_coverage


def parameter_metrics(name: str) -> tuple[Metric, Metric]:
    """NAME_w1 and NAME_std of a curve family's parameter NAME, declared once for every family that has it."""
    w1 = declare(
        f"{name}_w1",
        "lower",
        f"1-Wasserstein distance of the fitted {name}* to the data's {name}: coverage",
        headline=True,
        log_scale=True,
    )
    return w1, declare(f"{name}_std", "", f"the spread (standard deviation) of the fitted {name}*", headline=True)


def curve_metrics(names: tuple[str, ...]) -> tuple[Metric, ...]:
    """The metrics of a curve family with these parameters, in the order its quality lists them."""
    per = [parameter_metrics(n) for n in names]
    joint = (JOINT_COVERAGE,) if len(names) > 1 else ()
    return (SHAPE_RMSE, *(w for w, _ in per), *(s for _, s in per), *joint, OBJECTIVE)


def cell_coverage(p: Tensor, ranges: list[tuple[float, float]], cells: int = CELLS) -> Tensor:
    """The share of the cells (`cells` per parameter, over `ranges`) holding at least n/(5·cells^P) of the
    vectors p [..., n, P]: [...]. A vector outside the box counts in no cell."""
    total = cells ** p.shape[-1]
    low = torch.tensor([r[0] for r in ranges], dtype=p.dtype, device=p.device)
    width = torch.tensor([r[1] - r[0] for r in ranges], dtype=p.dtype, device=p.device)
    position = ((p - low) / width * cells).floor()
    inside = ((position >= 0) & (position < cells)).all(dim=-1)
    strides = cells ** torch.arange(p.shape[-1], device=p.device)
    index = torch.where(inside, (position.clamp(0, cells - 1).long() * strides).sum(dim=-1), total)
    counts = torch.zeros(*index.shape[:-1], total + 1, device=p.device).scatter_add_(
        -1, index, torch.ones_like(index, dtype=torch.float)
    )[..., :total]
    return (counts >= p.shape[-2] / (5 * total)).float().mean(dim=-1)


def uniform_joint_coverage(n: int, parameters: int, cells: int = CELLS) -> float:
    """The exact expected joint_coverage of n vectors drawn from a uniform box: P(Binomial(n, 1/C) ≥ ⌈n/(5C)⌉),
    C = cells^parameters."""
    total = cells**parameters
    need = math.ceil(n / (5 * total))
    q = 1 / total
    below = sum(math.comb(n, k) * q**k * (1 - q) ** (n - k) for k in range(need))
    return 1 - below


@dataclass
class Curves(Family):
    """Curves offset(x) + Σₖ pₖ·basisₖ(x) on `num_points` evenly spaced x of [-1, 1]; a subclass gives the basis,
    the offset and how p is drawn. A one-parameter family draws p as a number (shape [...]), a family of several
    as a vector ([..., P])."""

    parameters: ClassVar[tuple[str, ...]] = ()
    sized_by: ClassVar = ("num_points",)
    # Real curves lie on a thin set (a line in 16 dimensions): the real k-NN balls are tiny, so precision, density
    # and coverage are 0 for nearly every GAN, and recall counts the generated samples' own balls (docs/metrics.md).
    degenerate: ClassVar = ("precision", "recall", "density", "coverage")

    num_points: int = key(16, whole(3), "points per curve, evenly spaced on [-1, 1] (a parabola needs 3)")

    @property
    def dim(self) -> int:
        return self.num_points

    @cached_property
    def x(self) -> Tensor:
        """The x positions every curve is sampled at."""
        return torch.linspace(-1.0, 1.0, self.num_points)

    # --- what a subclass says -------------------------------------------------------------------------------

    def basis(self, x: Tensor) -> Tensor:
        """[P, len(x)]: each parameter's basis function at x."""
        raise NotImplementedError

    def offset(self, x: Tensor) -> Tensor:
        """[len(x)]: the part of every curve no parameter scales."""
        return torch.zeros_like(x)

    def spreads(self) -> list[float]:
        """Each parameter's standard deviation in the family."""
        raise NotImplementedError

    def w1(self, values: Tensor, k: int = 0) -> Tensor:
        """The 1-Wasserstein distance between the empirical distribution of parameter k's values [..., n] and the
        family's: [...]."""
        raise NotImplementedError

    # --- what follows ---------------------------------------------------------------------------------------

    def parameter_vector(self, drawn: Tensor) -> Tensor:
        return drawn.unsqueeze(-1) if len(self.parameters) == 1 else drawn

    def samples(self, drawn: Tensor) -> Tensor:
        x = self.x.to(drawn)
        return self.parameter_vector(drawn) @ self.basis(x) + self.offset(x)

    def fit_parameters(self, samples: Tensor) -> Tensor:
        """The least-squares parameters of each curve [..., len(x)]: [..., P]."""
        x = self.x.to(samples)
        basis = self.basis(x)  # [P, points]
        gram = basis @ basis.T  # [P, P]
        return torch.linalg.solve(gram, ((samples - self.offset(x)) @ basis.T).unsqueeze(-1)).squeeze(-1)

    def residuals(self, samples: Tensor, fitted: Tensor) -> Tensor:
        """Each curve's RMSE from its fit: [...]."""
        x = self.x.to(samples)
        return ((samples - (fitted @ self.basis(x) + self.offset(x))) ** 2).mean(dim=-1).sqrt()

    def quality(self, samples: Tensor) -> dict[str, Tensor]:
        curves = samples.detach().float()
        p = self.fit_parameters(curves)  # [..., n, P]
        residual = self.residuals(curves, p)
        quality = {"shape_rmse": residual.mean(dim=-1)}
        w1s = [self.w1(p[..., k], k) for k in range(len(self.parameters))]
        quality |= {f"{name}_w1": w1 for name, w1 in zip(self.parameters, w1s, strict=True)}
        quality |= {f"{name}_std": p[..., k].std(dim=-1) for k, name in enumerate(self.parameters)}
        if len(self.parameters) > 1:
            quality["joint_coverage"] = cell_coverage(p, self.parameter_ranges())
        quality["objective"] = quality["shape_rmse"] + (w1s[0] if len(w1s) == 1 else torch.stack(w1s).mean(dim=0))
        return quality | self.mode_quality(p[..., 0], residual)

    def mode_quality(self, a: Tensor, residual: Tensor) -> dict[str, Tensor]:
        """What a family in modes adds, from the first fitted parameter [..., n] and the fits' RMSEs [..., n]."""
        return {}

    def collapsed(self, quality: dict[str, Tensor]) -> Tensor:
        spreads = self.spreads()
        low = [quality[f"{name}_std"] < COLLAPSED_BELOW * spreads[k] for k, name in enumerate(self.parameters)]
        return torch.stack(low).any(dim=0)

    def corner_curves(self) -> Tensor:
        """The real curves at the corners of the parameter box, [2^P, points]: for a family linear in its
        parameters, every real curve lies between their lowest and highest at each x."""
        corners = torch.tensor(list(itertools.product(*self.parameter_ranges())), dtype=torch.float32)
        return corners @ self.basis(self.x) + self.offset(self.x)

    # --- figures: curves as lines over the band of real curves ------------------------------------------

    def band(self) -> tuple[Tensor, Tensor]:
        corners = self.corner_curves()
        return corners.min(dim=0).values, corners.max(dim=0).values

    def background(self, ax) -> None:
        xs = self.x.numpy()
        low, high = (t.numpy() for t in self.band())
        modes = self.parameter_modes()
        ax.fill_between(xs, low, high, color="0.85" if modes is None else "0.93", lw=0, zorder=0)
        for lo_a, hi_a in modes or []:  # each mode's band, outlined above the curves so they cannot hide it
            lo, hi = self.samples(torch.tensor([lo_a, hi_a])).numpy()
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
