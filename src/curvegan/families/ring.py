"""PacGAN's 2-D ring (data=ring; Lin et al., 2018): points from an equal-weight mixture of 8 isotropic normals
evenly on the unit circle, σ = 0.01, as in fjxmlzn/PacGAN synthetic_data_experiments/2DRing_GAN&PacGAN/config.py
(MEANS: (cos 2πi/8, sin 2πi/8); VARIANCES: 0.01² I). PacGAN's code draws one training set of 100,000 points
and reshuffles it every epoch; curvegan draws fresh points every epoch.

`Points` is what every such 2-D mixture shares (the grid, families/grid.py, places its modes otherwise). Scored as
PacGAN's own code scores them (`MetricLogger` in synthetic_data_experiments/PacGAN/pacgan/extensions.py), on
2,500 samples (its `num_log_figure_sample`):
- each sample goes to its nearest mode by the σ-normalised distance √Σ((x − μ)²/σ²), and is high quality when
  that distance is below 3 (`dis_thre`);
- pacgan_modes: the modes that hold at least one high-quality sample (MetricLogger's "mode coverage"; Table 1's
  "modes");
- hq_fraction: the share of high-quality samples (its "good points percentage"; Table 1's "high quality samples");
- mode_kl: KL(p ‖ uniform) of the modes' shares p of the high-quality samples (Table 1's "reverse KL").
  MetricLogger logs their entropy H(p) ("entropy of coverage") and JSD; KL(p ‖ uniform) = log M − H(p).
The curve mode bed counts a mode captured only with at least n/(5·M) high-quality samples; that count is kept
too, as modes_captured. The paper's table, and docs/literature.md, use pacgan_modes.
- objective (what sweeps minimise): the share of modes missed plus the share of samples not high quality.
- collapsed (per member): high-quality samples in fewer than COLLAPSED_BELOW of the modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.families import Family, given_one, unscorable
from curvegan.keys import key, number, whole
from curvegan.metrics import MODE_METRICS, OBJECTIVE, mode_coverage

HIGH_QUALITY_WITHIN = 3.0  # σ-normalised distance to the nearest mode (MetricLogger's dis_thre)
COLLAPSED_BELOW = 0.866  # as the curves': a member with high-quality samples in fewer modes has collapsed


@dataclass
class Points(Family):
    """2-D points from an equal-weight mixture of isotropic normals of std `std`; a subclass places the modes."""

    metrics: ClassVar = (*MODE_METRICS, OBJECTIVE)
    shown: ClassVar = ("pacgan_modes", "hq_fraction", "mode_kl")
    objective_says: ClassVar[str] = "modes missed + low-quality share"

    std: float = key(0.01, number(above=0, below=10), "each mode's standard deviation σ")

    @property
    def dim(self) -> int:
        return 2

    @cached_property
    def centres(self) -> Tensor:
        """The modes' means, [M, 2]."""
        raise NotImplementedError

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        which = torch.randint(len(self.centres), shape, generator=generator)
        return self.centres[which] + self.std * torch.randn((*shape, 2), generator=generator)

    def samples(self, drawn: Tensor) -> Tensor:
        return drawn

    def assign(self, samples: Tensor) -> tuple[Tensor, Tensor]:
        """(each sample's nearest mode, whether it is high quality), [..., n] each, for samples [..., n, 2]."""
        points = samples.detach().float()
        centres = self.centres.to(points)
        distance = ((points.unsqueeze(-2) - centres) / self.std).pow(2).sum(dim=-1).sqrt()  # [..., n, M]
        nearest_distance, nearest = distance.min(dim=-1)
        return nearest, nearest_distance < HIGH_QUALITY_WITHIN

    def quality(self, samples: Tensor) -> dict[str, Tensor]:
        quality = mode_coverage(*self.assign(samples), len(self.centres))
        quality["objective"] = (1 - quality["pacgan_modes"] / len(self.centres)) + (1 - quality["hq_fraction"])
        return quality

    def collapsed(self, quality: dict[str, Tensor]) -> Tensor:
        return quality["pacgan_modes"] < COLLAPSED_BELOW * len(self.centres)

    def describe(self) -> str:
        return f"points from {len(self.centres)} normals of σ {self.std:g}"

    # --- figures: every scored sample as a dot over the modes, each mode ringed at 3σ (its scoring ball) and
    # marked filled where it holds a high-quality sample (PacGAN's count, pacgan_modes), hollow red where none

    draws_scored: ClassVar[bool] = True
    HIT, MISSED = "tab:green", "tab:red"

    def background(self, ax) -> None:
        from matplotlib.patches import Circle

        for x, y in self.centres.tolist():
            ax.add_patch(Circle((x, y), HIGH_QUALITY_WITHIN * self.std, fill=False, color="0.3", lw=0.8, zorder=3))
        reach = float(self.centres.abs().max())
        limit = reach + max(0.5, reach / 2)
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
        ax.set_aspect("equal", adjustable="box")

    def artists(self, ax, n: int, colors: list | None) -> list:
        dots = ax.scatter([0.0] * n, [0.0] * n, s=2 if n > 200 else 6, c=colors or "tab:blue", alpha=0.4, lw=0)
        x, y = self.centres.T.tolist()
        modes = ax.scatter(x, y, s=70, facecolors="none", edgecolors=self.MISSED, lw=1.6, zorder=4)
        return [dots, modes]

    def update(self, artists: list, samples: Tensor) -> None:
        from matplotlib.colors import to_rgba

        dots, modes = artists
        dots.set_offsets(samples.numpy())
        hit = self.mode_counts(samples) > 0
        modes.set_facecolors([to_rgba(self.HIT, 0.45) if h else "none" for h in hit.tolist()])
        modes.set_edgecolors([self.HIT if h else self.MISSED for h in hit.tolist()])

    def mode_counts(self, samples: Tensor) -> Tensor:
        nearest, good = self.assign(samples)
        return torch.bincount(nearest[good], minlength=len(self.centres))

    def mode_labels(self) -> list[str]:
        return [f"({round(x, 2) + 0:g}, {round(y, 2) + 0:g})" for x, y in self.centres.tolist()]  # + 0: no −0

    def legend_handles(self, label: str, color) -> list:
        from matplotlib.colors import to_rgba
        from matplotlib.lines import Line2D

        mode = {"ls": "", "marker": "o", "ms": 9, "mew": 1.6}
        return [
            Line2D([], [], ls="", marker="o", ms=4, color=color, label=label),
            Line2D([], [], **mode, mfc=to_rgba(self.HIT, 0.45), mec=self.HIT, label="mode hit"),
            Line2D([], [], **mode, mfc="none", mec=self.MISSED, label="mode missed"),
        ]

    def axis_labels(self) -> tuple[str, str]:
        return "x₁", "x₂"

    PLACEMENT: ClassVar[tuple[str, ...]] = ()  # the keys that place the modes (a subclass's)

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        """Modes whose scores would mean nothing (overlapping scoring balls, a σ float32 cannot hold) are refused,
        naming the key the user gave."""
        from omegaconf import OmegaConf

        from curvegan.errors import given_keys

        family = cls(**{k: v for k, v in OmegaConf.to_container(node).items() if k != "_target_"})
        problem = unscorable(family.centres, family.std, HIGH_QUALITY_WITHIN)
        if problem is None:
            return None
        kind, allowed = problem
        keys = ["data.std"] if kind == "std" else [f"data.{k}" for k in (*cls.PLACEMENT, "std")]
        name = given_one(keys, given_keys())
        return name, OmegaConf.to_container(cfg.data)[name.removeprefix("data.")], allowed


@dataclass
class Ring(Points):
    """`modes` normals evenly on a circle of `radius`."""

    name: ClassVar[str] = "ring"
    PLACEMENT: ClassVar = ("modes", "radius")

    modes: int = key(8, whole(2, 1000), "normals evenly on the circle")
    radius: float = key(1.0, number(above=0, below=1e3), "the circle's radius")

    @cached_property
    def centres(self) -> Tensor:
        angles = torch.arange(self.modes, dtype=torch.float64) * 2 * math.pi / self.modes
        return (self.radius * torch.stack([angles.cos(), angles.sin()], dim=-1)).float()
