"""Training's randomness: every random number training draws (G's noise, a penalty's mixing weights, a variant's
codes) comes from one stream per block of members (curvegan.blocks), a torch.Generator on the model's device,
seeded per process and kept in the checkpoint, so that a resumed run draws what the uninterrupted one would
have. Every draw has the member axis first; each block draws its own members' share."""

from __future__ import annotations

import torch
from torch import Tensor

from curvegan.blocks import drawn


class Stream:
    """One torch.Generator per block, started at fit start (`start`); their states are saved and restored with
    the checkpoint (one state for a run of one block, as before blocks existed; else a list)."""

    def __init__(self) -> None:
        self.generators: list[torch.Generator] = []
        self.runs: list[tuple[int, slice]] = []
        self.restored = None  # a checkpoint's state, applied by the next `start`

    def start(self, runs: list[tuple[int, slice]], offset: int, device: torch.device) -> None:
        self.runs = runs
        self.generators = [torch.Generator(device=device).manual_seed(seed + offset) for seed, _ in runs]
        if self.restored is not None:
            states = self.restored if isinstance(self.restored, list) else [self.restored]
            for generator, state in zip(self.generators, states, strict=True):
                generator.set_state(state)

    def draw(self, shape, device: torch.device, uniform: bool = False) -> Tensor:
        """Standard normal (or U[0, 1)) numbers [members, ...]; before `start`, from torch's global generator."""
        if not self.generators:
            return torch.rand(shape, device=device) if uniform else torch.randn(shape, device=device)

        def make(j: int, members: int) -> Tensor:
            size = (members, *shape[1:]) if len(self.runs) > 1 else shape
            if uniform:
                return torch.rand(size, device=device, generator=self.generators[j])
            return torch.randn(size, device=device, generator=self.generators[j])

        return drawn(self.runs, make)

    def state(self):
        if not self.generators:
            return None
        states = [g.get_state() for g in self.generators]
        return states[0] if len(states) == 1 else states
