"""The real data, made on the fly: fresh samples of the family every epoch, seeded, one stream per member.

The stream hands out what the samples are made from (`Family.draw`: for curves their parameter a,
[steps, members, batch_size], sixteen times less to move to the device than the curves), and
`on_after_batch_transfer` makes the samples there.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch

from curvegan.families import Family


class Stream:
    """One epoch of draws, handed out `batches_per_step` batches at a time.

    Each item is [k, members, batch_size, ...] (k = batches_per_step, smaller for the last item) that one
    `training_step` consumes as k G updates, so Lightning's fixed per-call cost is paid once per k updates.
    Epoch e's values depend only on (seed, e), and where an epoch starts is read from the trainer's own
    progress, so a run resumed from any checkpoint sees exactly the batches the uninterrupted run saw.
    """

    def __init__(self, datamodule: RealData):
        self.dm = datamodule

    def __len__(self) -> int:
        family = self.dm.family
        return -(-family.batches_per_epoch // family.batches_per_step)

    def _position(self) -> tuple[int, int]:
        trainer = self.dm.trainer
        if trainer is None:
            return 0, 0
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        epoch = trainer.current_epoch
        if done >= len(self):  # resumed from a checkpoint taken on the epoch's last call
            epoch, done = epoch + 1, 0
        return epoch, done

    def __iter__(self) -> Iterator[torch.Tensor]:
        epoch, start = self._position()
        return self.dm.epoch_draws(epoch, start)


class RealData(L.LightningDataModule):
    """Real samples of `family` for `members` independent streams (one per ensemble member), from `seed`."""

    def __init__(self, family: Family, members: int = 1, seed: int = 0):
        super().__init__()
        self.family, self.members, self.seed = family, members, seed

    def epoch_draws(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """Epoch `epoch`'s draws, [k, members, batch_size, ...] per training_step from the `start`-th on, from
        (seed, epoch). Drawn a step's worth at a time, so memory stays small for large ensembles; the values do
        not depend on batches_per_step."""
        family = self.family
        rank = self.trainer.global_rank if self.trainer is not None else 0  # each DDP process its own samples
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch + rank * 7_919)
        for first in range(0, family.batches_per_epoch, family.batches_per_step):
            k = min(family.batches_per_step, family.batches_per_epoch - first)
            drawn = family.draw((k, self.members, family.batch_size), gen)
            if first >= start * family.batches_per_step:
                yield drawn

    def train_dataloader(self) -> Stream:
        return Stream(self)

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(what was drawn, the samples made from it on the device)."""
        return batch, self.family.samples(batch)
