"""What a run shows while it trains: quality metrics, a figure of curves, and the frames of progress.gif."""

from __future__ import annotations

import signal
import threading
from functools import cached_property
from pathlib import Path

import lightning as L
import numpy as np
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only

from curvegan.metrics import curve_quality, fit_a
from curvegan.plots import CurvePlot


class Checkpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, with its `state_key` computed once.

    Lightning formats every callback's state_key around each hook call; ModelCheckpoint builds its key anew each
    time, which made it cost about 9% of a training step here (benchmarks/speed.py). The key depends only on
    settings fixed at construction, so caching it changes nothing else.
    """

    @cached_property
    def state_key(self) -> str:
        return super().state_key


class CurveMonitor(L.Callback):
    """Every `every_n_epochs` epochs: measure `num_samples` curves, log `quality/*`, a histogram of their fitted a
    and a figure of curves.

    The figure (curves from the model's fixed preview noise over the real band) goes to every logger that
    takes images (TensorBoard's IMAGES tab); each one is also a frame of `gif_path`, written when fit ends.
    The quality history is kept in `history` for metrics.json.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 10000,
        seed: int = 1234,
        gif_path: str | None = None,
        gif_frame_ms: int = 400,
    ):
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.seed = seed
        self.gif_path = gif_path
        self.gif_frame_ms = gif_frame_ms
        self.history: list[dict[str, float]] = []
        self.frames: list[np.ndarray] = []
        self.plot: CurvePlot | None = None

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0 or trainer.current_epoch + 1 == trainer.max_epochs:
            self.measure(trainer, pl_module)

    @rank_zero_only
    def measure(self, trainer: L.Trainer, gan) -> None:
        dm = trainer.datamodule
        a_min, a_max, x = dm.hparams.a_min, dm.hparams.a_max, dm.x
        samples = gan.sample(self.num_samples, self.seed)
        quality = curve_quality(samples, x, a_min, a_max)
        step = gan.g_updates
        self.history.append({"epoch": trainer.current_epoch + 1, "step": step, **quality})
        fitted_a = fit_a(samples, x)
        for logger in trainer.loggers:
            logger.log_metrics({f"quality/{k}": v for k, v in quality.items()}, step=step)
            # The fitted a of every sample: a collapsed generator shows as a spike instead of a flat block.
            add_histogram = getattr(logger.experiment, "add_histogram", None)
            if add_histogram is not None:
                add_histogram("quality/a_fitted", fitted_a, step)

        preview = gan.sample_from(gan.preview_noise)
        title = (
            f"epoch {trainer.current_epoch + 1} · {step} G updates · shape_rmse {quality['shape_rmse']:.3f}"
            f" · a_w1 {quality['a_w1']:.3f}"
        )
        if self.plot is None:
            self.plot = CurvePlot(x, a_min, a_max, len(preview))
        image = self.plot.render(preview, title)
        for logger in trainer.loggers:
            add_image = getattr(logger.experiment, "add_image", None)
            if add_image is not None:
                add_image("curves/generated", image, step, dataformats="HWC")
        if self.gif_path:
            self.frames.append(image)

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module) -> None:
        if self.gif_path and self.frames:
            save_gif(self.frames, Path(self.gif_path), self.gif_frame_ms)


def save_gif(frames: list[np.ndarray], path: Path, frame_ms: int) -> None:
    """Write RGB frames as a looping GIF, the last frame held longer."""
    from PIL import Image

    images = [Image.fromarray(f) for f in frames]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 4]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)


class Interrupted(Exception):
    """Training was stopped by a signal, after writing a checkpoint."""

    def __init__(self, signum: int, ckpt_path: str, g_updates: int):
        super().__init__(
            f"stopped by {signal.Signals(signum).name} after G update {g_updates}; checkpoint: {ckpt_path}"
        )
        self.signum = signum


class StopOnSignal(L.Callback):
    """SIGTERM (how schedulers end jobs) or Ctrl-C: finish the current training_step, write `ckpt_path`, stop.

    Stopping only between steps keeps the checkpoint consistent (no half-done D/G update), so resuming from it
    continues the run exactly. The exception raised ends `fit`; `train` turns it into a one-line message.
    """

    def __init__(self, ckpt_path: str):
        self.ckpt_path = ckpt_path
        self.received: int | None = None
        self._previous: dict = {}

    def _note(self, signum, frame) -> None:
        self.received = signum

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._note) for s in (signal.SIGINT, signal.SIGTERM)}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.received is not None:
            trainer.save_checkpoint(self.ckpt_path)
            raise Interrupted(self.received, self.ckpt_path, pl_module.g_updates)

    def teardown(self, trainer: L.Trainer, pl_module, stage: str) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}
