"""Stopping a run cleanly on a signal (callbacks.stop_on_signal): the run finishes its step, writes its checkpoint
and ends with one line and 128 + the signal; which signals it takes is curvegan.stop_signals."""

from __future__ import annotations

import signal
import threading
from dataclasses import dataclass

import lightning as L

from curvegan import Interrupted, stop_signals
from curvegan.keys import TEXT, key, settings


class StopOnSignal(L.Callback):
    """SIGTERM (how schedulers end jobs), Ctrl-C, or SIGHUP, SIGUSR1 and SIGUSR2 where nothing else handles them
    (curvegan.stop_signals): finish the current training_step (or the epoch's end work), write `ckpt_path`, stop.

    Stopping only between steps keeps the checkpoint consistent (no half-done D/G update), so resuming from it
    continues the run exactly. The exception raised ends `fit`; `train` turns it into a one-line message.

    On an epoch's last batch the stop waits for the epoch's end work (on_train_epoch_end, next): Lightning resumes
    a checkpoint written at the last batch's end as a finished epoch and never runs that epoch's end work, so the
    monitor's measurement of it would be missing from the resumed run's history. For the same reason this callback
    takes the signals back once training starts (`on_train_start`), after Lightning has put its own SIGTERM handler
    in front of it, whose SIGTERMException would end `fit` at that last batch; should Lightning's handler still
    see one, `on_exception` writes the checkpoint of the state there (the stop is kept, the epoch's end is lost).
    """

    @dataclass
    class Config:
        ckpt_path: str = key("last.ckpt", TEXT, "the checkpoint written on a stop (checkpoints/last.ckpt)")

    def __init__(self, **config):
        self.ckpt_path = settings(type(self), config).ckpt_path
        self.received: int | None = None
        self._previous: dict = {}

    def _note(self, signum, frame) -> None:
        self.received = signum

    _note.curvegan_stop = True  # a handler of ours: curvegan.stop_signals may take its signal over

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._note) for s in stop_signals()}

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        for signum in self._previous:  # Lightning registered its SIGTERM handler after on_fit_start: ours again
            signal.signal(signum, self._note)

    def _stop_if_signalled(self, trainer: L.Trainer, pl_module) -> None:
        if self.received is not None:
            trainer.save_checkpoint(self.ckpt_path)
            raise Interrupted(self.received, self.ckpt_path, pl_module.g_updates)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not last_batch(trainer):  # on the last, the stop comes after the epoch's end work (above)
            self._stop_if_signalled(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        """A signal that landed during the epoch's end work (the monitor's measurement) stops the run here."""
        self._stop_if_signalled(trainer, pl_module)

    def on_exception(self, trainer: L.Trainer, pl_module, exception: BaseException) -> None:
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        if isinstance(exception, SIGTERMException) and self.received is not None:
            trainer.save_checkpoint(self.ckpt_path)

    def stopped(self, pl_module) -> Interrupted | None:
        """What a signal received during `fit` means once fit has ended: the stop, with its checkpoint."""
        if self.received is None:
            return None
        return Interrupted(self.received, self.ckpt_path, pl_module.g_updates)

    def teardown(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


def last_batch(trainer: L.Trainer) -> bool:
    """Whether the batch just trained is its epoch's last, as Lightning's restart logic tells (FitLoop.reset);
    False where this Lightning does not say (the stop then comes at once, as before)."""
    progress = getattr(getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None), "batch_progress", None)
    return bool(getattr(progress, "is_last_batch", False))
