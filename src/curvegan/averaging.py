"""An exponential moving average of G's weights (model.g_ema), member by member: each member's average moves
towards that member's weights, and a frozen (diverged) member's average stays where it was."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from curvegan.stepping import broadcast_members


@torch.no_grad()
def moving_average_step(average: nn.Module, params: list[Tensor], source: nn.Module, decay: float, alive) -> None:
    """`average`'s parameters take a step of 1 − decay towards `params` (those of `source`, as its optimizer
    holds them), only for the members `alive` marks ([members] bool; None: every member); its buffers (batch
    norm's running statistics) become `source`'s. `decay` is a number, or one per member ([members])."""
    weight = 1 - decay
    for mean, current in zip(average.parameters(), params, strict=True):
        step = broadcast_members(weight, mean) if isinstance(weight, Tensor) else weight
        if alive is None:
            mean.lerp_(current, step)
        else:
            mean.lerp_(current, broadcast_members(alive, mean) * step)
    for mean, current in zip(average.buffers(), source.buffers(), strict=True):
        mean.copy_(current)
