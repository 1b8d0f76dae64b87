"""PacGAN's 2-D grid (data=grid; Lin et al., 2018): points from an equal-weight mixture of 25 isotropic normals at
{−4, −2, 0, 2, 4}², σ = 0.05, as in fjxmlzn/PacGAN synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py (MEANS:
itertools.product(range(-4, 5, 2), range(-4, 5, 2)); VARIANCES: 0.05² I).

Scored as the ring (families/ring.py) and PacGAN's MetricLogger score it, on 2,500 samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch
from torch import Tensor

from curvegan.families.ring import Points
from curvegan.keys import key, number, whole


@dataclass
class Grid(Points):
    """`side` × `side` normals, `spacing` apart, centred on the origin."""

    name: ClassVar[str] = "grid"
    PLACEMENT: ClassVar = ("spacing", "side")

    std: float = key(0.05, number(above=0, below=10), "each mode's standard deviation σ")
    side: int = key(5, whole(1, 30), "modes along each axis")
    spacing: float = key(2.0, number(above=0, below=1e3), "the distance between neighbouring modes")

    @cached_property
    def centres(self) -> Tensor:
        line = (torch.arange(self.side, dtype=torch.float64) - (self.side - 1) / 2) * self.spacing
        return torch.cartesian_prod(line, line).float()
