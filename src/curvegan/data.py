"""The real data, made on the fly: fresh samples of the family every epoch, seeded, one stream per member.

The stream hands out what the samples are made from (`Family.draw`: for curves their parameter a,
[steps, members, batch_size], sixteen times less to move to the device than the curves), and
`on_after_batch_transfer` makes the samples there.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch

from curvegan.blocks import blocks_of, drawn
from curvegan.families import Family


class Stream:
    """One epoch of draws, handed out `batches_per_step` batches at a time.

    Each item is [k, members, batch_size, ...] (k = batches_per_step, smaller for the last item) that one
    `training_step` consumes as k G updates, so Lightning's fixed per-call cost is paid once per k updates.
    Epoch e's values depend only on (seed, e), and where the stream stands follows from the G updates the model
    has made (every epoch takes the same number), so a run resumed from any checkpoint, whatever the state of
    Lightning's loops in it, sees exactly the batches the uninterrupted run saw. It is a resumable loader in
    Lightning's terms (`state_dict`, `load_state_dict`): its state is that count.
    """

    def __init__(self, datamodule: RealData):
        self.dm = datamodule

    def __len__(self) -> int:
        family = self.dm.family
        return -(-family.batches_per_epoch // family.batches_per_step)

    def position(self) -> tuple[int, int]:
        """(epoch, training_step within it) of the next item."""
        trainer = self.dm.trainer
        if trainer is None or trainer.lightning_module is None:
            return 0, 0
        family = self.dm.family
        limit = trainer.num_training_batches  # fewer with trainer.limit_train_batches; inf before Lightning counts
        steps = len(self) if limit == float("inf") else min(len(self), int(limit))
        per_epoch = min(steps * family.batches_per_step, family.batches_per_epoch)
        epoch, within = divmod(trainer.lightning_module.g_updates, per_epoch)
        return epoch, within // family.batches_per_step

    def __iter__(self) -> Iterator[torch.Tensor]:
        return self.dm.epoch_draws(*self.position())

    def state_dict(self) -> dict:
        trainer = self.dm.trainer
        return {"g_updates": trainer.lightning_module.g_updates if trainer is not None else 0}

    def load_state_dict(self, state: dict) -> None:
        """Nothing to restore: the position follows from the G updates, which the checkpoint restores."""


class RealData(L.LightningDataModule):
    """Real samples of `family` for `members` independent streams (one per ensemble member), from `seed`: each
    block of members (curvegan.blocks: `seed` a list, `sizes` the blocks') draws its own, from its own seed."""

    def __init__(self, family: Family, members: int = 1, seed=0, sizes=None):
        super().__init__()
        self.family, self.members, self.seed = family, members, seed
        self.runs = blocks_of(seed, members, sizes)

    def epoch_draws(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """Epoch `epoch`'s draws, [k, members, batch_size, ...] per training_step from the `start`-th on, from
        (seed, epoch). Drawn a step's worth at a time, so memory stays small for large ensembles; the values do
        not depend on batches_per_step."""
        family = self.family
        rank = self.trainer.global_rank if self.trainer is not None else 0  # each DDP process its own samples
        gens = [torch.Generator().manual_seed(seed * 1_000_003 + epoch + rank * 7_919) for seed, _ in self.runs]
        if family.fixed_set:
            yield from self.shuffled(gens, rank, start)
            return
        for first in range(0, family.batches_per_epoch, family.batches_per_step):
            k = min(family.batches_per_step, family.batches_per_epoch - first)
            values = drawn(
                self.runs, lambda j, members, k=k: family.draw((k, members, family.batch_size), gens[j]), dim=1
            )
            if first >= start * family.batches_per_step:
                yield values

    def training_set(self, rank: int) -> torch.Tensor:
        """data.fixed_set: each member's training set, batch_size × batches_per_epoch draws [members, N, ...], drawn
        once (each block from its own seed) and kept."""
        found = getattr(self, "_training_set", None)
        if found is None or found[0] != rank:
            family, size = self.family, self.family.batch_size * self.family.batches_per_epoch
            gens = [torch.Generator().manual_seed(seed * 1_000_003 + 999_983 + rank * 7_919) for seed, _ in self.runs]
            drawn_set = drawn(self.runs, lambda j, members: family.draw((members, size), gens[j]))
            self._training_set = found = (rank, drawn_set)
        return found[1]

    def shuffled(self, gens: list, rank: int, start: int) -> Iterator[torch.Tensor]:
        """The training set in an order of this epoch's (each member its own permutation, from the epoch's
        generator), as [k, members, batch_size, ...] a training_step at a time."""
        family, fixed = self.family, self.training_set(rank)
        members, size = fixed.shape[:2]
        order = drawn(self.runs, lambda j, m: torch.rand((m, size), generator=gens[j])).argsort(dim=1)
        index = order.view(members, size, *([1] * (fixed.dim() - 2))).expand(members, size, *fixed.shape[2:])
        batches = fixed.gather(1, index).view(members, family.batches_per_epoch, family.batch_size, *fixed.shape[2:])
        batches = batches.transpose(0, 1)  # [batches, members, batch_size, ...]
        for first in range(start * family.batches_per_step, family.batches_per_epoch, family.batches_per_step):
            yield batches[first : first + family.batches_per_step].contiguous()

    def train_dataloader(self) -> Stream:
        return Stream(self)

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(what was drawn, the samples made from it on the device)."""
        return batch, self.family.samples(batch)
