"""What training logs as it goes: `2_train/*`, the median living member's G loss, D loss and D's mean probability
on real and on fake samples, each a mean over the G updates since they were last logged."""

from __future__ import annotations

import torch
from torch import Tensor

NAMES = ("2_train/g_loss", "2_train/d_loss", "2_train/p_real", "2_train/p_fake")  # opened second (metrics.Metric)


@torch.no_grad()
def statistics(updates: list[tuple]) -> Tensor:
    """[k, 4, members]: the G loss, the D loss and D's mean probability on real and on fake samples of k updates,
    made at once (a few operations per training_step, not per update)."""
    g_loss, d_loss, real, fake = (torch.stack(parts) for parts in zip(*updates, strict=True))
    p_real, p_fake = (out.sigmoid().flatten(2).mean(dim=2) for out in (real, fake))
    return torch.stack([g_loss, d_loss, p_real, p_fake], dim=1)


class TrainingLog:
    """Sums the statistics of each training_step and, every `every` G updates, writes the median living member's
    means straight to every logger: Lightning's self.log costs about a millisecond a value (its result
    collection, then a flush of every logger each time), for values that nothing in the loop reads. The loggers
    are flushed once an epoch (curvegan.callbacks.Monitor)."""

    def __init__(self, every: int) -> None:
        self.every = every
        self.sum: Tensor | None = None  # [4, members] summed since they were last logged
        self.count = 0
        self.values: dict[str, float] = {}  # as last logged (the progress line shows the losses)

    def add(self, per_update: Tensor, g_updates: int, alive: Tensor, loggers) -> None:
        """Add k updates' statistics [k, 4, members], the last of them G update `g_updates`."""
        stats = per_update.nan_to_num().sum(dim=0)
        self.sum = stats if self.sum is None else self.sum + stats
        self.count += len(per_update)
        if g_updates // self.every > (g_updates - len(per_update)) // self.every:
            if not alive.any():  # every member frozen (one job's of a packed sweep): nothing to log
                self.sum, self.count = None, 0
                return
            means = (self.sum / self.count)[:, alive].median(dim=1).values.tolist()
            self.values = dict(zip(NAMES, means, strict=True))
            for logger in loggers:
                logger.log_metrics(self.values, step=g_updates)  # the x axis: G updates
            self.sum, self.count = None, 0
