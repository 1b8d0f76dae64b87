"""The real data: quadratic curves y = a·x² + (a−1), made on the fly as tensors, fresh and seeded each epoch."""

from __future__ import annotations

import lightning as L
import torch


def curve_grid(num_points: int) -> torch.Tensor:
    """The x positions every curve is sampled at: evenly spaced on [-1, 1]."""
    return torch.linspace(-1.0, 1.0, num_points)


def quadratic_curves(a: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """y = a·x² + (a−1) for each a: shape [*a.shape, len(x)]."""
    a = a.unsqueeze(-1)
    return a * x**2 + (a - 1)


class CurveStream:
    """One epoch of real curves, handed out `batches_per_step` batches at a time.

    Each item is a tensor [k, batch_size, num_points] (k = batches_per_step, smaller for the last item) that one
    `training_step` consumes as k G updates, so Lightning's fixed per-call cost is paid once per k updates.
    Epoch e's curves depend only on (seed, e), and where an epoch starts is read from the trainer's own
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

    def __iter__(self):
        epoch, start = self._position()
        chunks = self.dm.epoch_batches(epoch).split(self.dm.hparams.batches_per_step)
        return iter(chunks[start:])


class QuadraticCurves(L.LightningDataModule):
    """Real curves y = a·x² + (a−1) with a ~ U(a_min, a_max) on `num_points` points of [-1, 1]."""

    def __init__(
        self,
        a_min: float = 1.0,
        a_max: float = 2.0,
        num_points: int = 16,
        batch_size: int = 32,
        batches_per_epoch: int = 300,
        batches_per_step: int = 10,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.x = curve_grid(num_points)

    def epoch_batches(self, epoch: int) -> torch.Tensor:
        """All of epoch `epoch`'s real curves, [batches_per_epoch, batch_size, num_points], from (seed, epoch)."""
        hp = self.hparams
        rank = self.trainer.global_rank if self.trainer is not None else 0  # each DDP process its own curves
        gen = torch.Generator().manual_seed(hp.seed * 1_000_003 + epoch + rank * 7_919)
        a = torch.empty(hp.batches_per_epoch, hp.batch_size).uniform_(hp.a_min, hp.a_max, generator=gen)
        return quadratic_curves(a, self.x)

    def train_dataloader(self) -> CurveStream:
        return CurveStream(self)
