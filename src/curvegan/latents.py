"""Latent priors: what G's noise is drawn from. `draw(shape, uniform)` supplies the random numbers (standard
normal, or U[0, 1) with uniform=True): the training stream during training, a fixed generator elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

Draw = Callable[..., Tensor]
PRIORS = ("normal", "uniform", "mixture")


def drawing_from(rng: torch.Generator) -> Draw:
    """A `draw` over a generator of its own (evaluation's and the figures' fixed noise)."""

    def draw(shape, uniform=False):
        return torch.rand(shape, generator=rng) if uniform else torch.randn(shape, generator=rng)

    return draw


class Prior:
    """Noise: standard normal; uniform on [-1, 1] (bounded, so no sample comes from a far tail); or, for each
    coordinate, a mixture of `modes` narrow normals (std `spread`) at evenly spaced centres of [-1, 1]: a prior
    already in separate pieces, for data in separate modes."""

    def __init__(self, kind: str = "normal", modes: int = 8, spread: float = 0.02):
        self.kind, self.modes, self.spread = kind, modes, spread

    def sample(self, shape: Sequence[int], draw: Draw) -> Tensor:
        if self.kind == "uniform":
            return draw(shape, True) * 2 - 1
        if self.kind == "mixture":
            which = (draw(shape, True) * self.modes).floor().clamp(max=self.modes - 1)
            return which * (2 / (self.modes - 1)) - 1 + self.spread * draw(shape, False)
        return draw(shape, False)

    @property
    def span(self) -> float:
        """How far a walk moves a coordinate: ±2.5 standard deviations, or a bounded prior's ±1."""
        return 2.5 if self.kind == "normal" else 1.0
