"""The real data: quadratic curves y = a·x² + (a−1), made on the fly, fresh and seeded each epoch.

The stream hands out the parameters a, [steps, members, batch_size]: sixteen times less to move to the device
than the curves, which `on_after_batch_transfer` then draws there. Each ensemble member gets its own real curves.
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch

from curvegan.families import Family, make_family


def curve_grid(num_points: int) -> torch.Tensor:
    """The x positions every curve is sampled at: evenly spaced on [-1, 1]."""
    return torch.linspace(-1.0, 1.0, num_points)


def quadratic_curves(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y = a·x² + (a−1) for each a: shape [*a.shape, len(x)]."""
    a = a.unsqueeze(-1)
    return a * x**2 + (a - 1)


class CurveStream:
    """One epoch of real a, handed out `batches_per_step` batches at a time.

    Each item is a tensor [k, members, batch_size] (k = batches_per_step, smaller for the last item) that one
    `training_step` consumes as k G updates, so Lightning's fixed per-call cost is paid once per k updates.
    Epoch e's values depend only on (seed, e), and where an epoch starts is read from the trainer's own
    progress, so a run resumed from any checkpoint sees exactly the batches the uninterrupted run saw.
    """

    def __init__(self, datamodule: QuadraticCurves):
        self.dm = datamodule

    def __len__(self) -> int:
        return -(-self.dm.hparams.batches_per_epoch // self.dm.hparams.batches_per_step)

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
        return self.dm.epoch_a(epoch, start)


class QuadraticCurves(L.LightningDataModule):
    """Real curves y = a·x² + (a−1) on `num_points` points of [-1, 1], a drawn from the data's family:
    U(a_min, a_max), or with `modes` an equal-weight mixture of normals N(centre, mode_std²).

    `members` independent streams, one per ensemble member.
    """

    def __init__(
        self,
        a_min: float = 1.0,
        a_max: float = 2.0,
        num_points: int = 16,
        batch_size: int = 32,
        batches_per_epoch: int = 300,
        batches_per_step: int = 25,
        members: int = 1,
        modes: list[float] | None = None,
        mode_std: float = 0.01,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.x = curve_grid(num_points)
        self.family: Family = make_family(a_min, a_max, modes, mode_std)

    def epoch_a(self, epoch: int, start: int = 0) -> Iterator[torch.Tensor]:
        """Epoch `epoch`'s a, [k, members, batch_size] per training_step from the `start`-th on, from (seed, epoch).

        Drawn a step's worth at a time, so memory stays small for large ensembles; the values do not depend on
        batches_per_step.
        """
        hp = self.hparams
        rank = self.trainer.global_rank if self.trainer is not None else 0  # each DDP process its own curves
        gen = torch.Generator().manual_seed(hp.seed * 1_000_003 + epoch + rank * 7_919)
        for first in range(0, hp.batches_per_epoch, hp.batches_per_step):
            k = min(hp.batches_per_step, hp.batches_per_epoch - first)
            a = self.family.sample((k, hp.members, hp.batch_size), gen)
            if first >= start * hp.batches_per_step:
                yield a

    def curves(self, a: torch.Tensor) -> torch.Tensor:
        """The real curves for parameters a: [*a.shape, num_points], on a's device."""
        return quadratic_curves(a, self.x.to(a.device))

    def train_dataloader(self) -> CurveStream:
        return CurveStream(self)

    def on_after_batch_transfer(self, batch: torch.Tensor, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(a, curves): the curves are drawn on the device, from a."""
        return batch, self.curves(batch)
