"""Training's randomness: every random number training draws (G's noise, a penalty's mixing weights, a variant's
codes) comes from one stream, a torch.Generator on the model's device, seeded per process and kept in the
checkpoint, so that a resumed run draws what the uninterrupted one would have."""

from __future__ import annotations

import torch
from torch import Tensor


class Stream:
    """One torch.Generator, started at fit start (`start`); its state is saved and restored with the checkpoint."""

    def __init__(self) -> None:
        self.generator: torch.Generator | None = None
        self.restored: Tensor | None = None  # a checkpoint's state, applied by the next `start`

    def start(self, seed: int, device: torch.device) -> None:
        self.generator = torch.Generator(device=device).manual_seed(seed)
        if self.restored is not None:
            self.generator.set_state(self.restored)

    def draw(self, shape, device: torch.device, uniform: bool = False) -> Tensor:
        """Standard normal (or U[0, 1)) numbers; before `start`, from torch's global generator."""
        if uniform:
            return torch.rand(shape, device=device, generator=self.generator)
        return torch.randn(shape, device=device, generator=self.generator)

    def state(self) -> Tensor | None:
        return None if self.generator is None else self.generator.get_state()
