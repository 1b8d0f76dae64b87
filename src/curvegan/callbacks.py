"""What a run shows while it trains: quality metrics, a figure of curves, the frames of progress.gif, progress."""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from functools import cached_property
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_only

from curvegan.families import NormalMixture
from curvegan.metrics import fit_a, summarize
from curvegan.plots import PANEL_CURVES, CurvePlot, a_histogram

log = logging.getLogger(__name__)


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
    """Every `every_n_epochs` epochs: measure every member on `num_samples` curves and log `quality/*` (the
    median member's values; with several members also the worst, as `quality/<metric>_worst`, and histograms
    of the members' values under `members/`), a histogram of the fitted a of the median member's curves, and a
    figure of curves.

    The figure shows, from the model's fixed preview inputs over the real band, one panel per member for up to
    `members_shown` members, ordered from best to worst (shape_rmse + a_w1) and spread over the whole ranking.
    It goes to every logger that takes images (TensorBoard's IMAGES tab) and, with `gif_path`, to a PNG in
    frames/ beside the GIF: the GIF's frames, assembled when fit ends. The quality history (for metrics.json)
    and the list of frames are part of the callback's checkpointed state, so a resumed run's history and GIF
    cover the whole run.
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        num_samples: int = 10000,
        seed: int = 1234,
        gif_path: str | None = None,
        gif_frame_ms: int = 400,
        members_shown: int = 16,
    ):
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.seed = seed
        self.gif_path = gif_path
        self.gif_frame_ms = gif_frame_ms
        self.members_shown = members_shown
        self.history: list[dict] = []
        self.frames: list[str] = []  # the PNG files of the GIF's frames, in frames/ beside it
        self.plot: CurvePlot | None = None

    def state_dict(self) -> dict:
        return {"history": self.history, "frames": self.frames}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict["history"])
        self.frames = list(state_dict["frames"])

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0 or trainer.current_epoch + 1 == trainer.max_epochs:
            self.measure(trainer, pl_module)

    @rank_zero_only
    def measure(self, trainer: L.Trainer, gan) -> None:
        dm = trainer.datamodule
        per_member = gan.evaluate(self.num_samples, self.seed, dm.family, dm.x)
        diverged = (gan.diverged_at >= 0).cpu()
        summary = summarize(per_member, ~diverged)
        step, epoch = gan.g_updates, trainer.current_epoch + 1
        self.history.append({"epoch": epoch, "step": step, **summary})

        # Members from best to worst (diverged ones last); the figure shows some spread over that ranking.
        ranking = (per_member["objective"].nan_to_num(math.inf) + diverged * 1e9).argsort().tolist()
        median_member = ranking[(len(ranking) - 1 - int(diverged.sum())) // 2]
        inputs, _ = gan.evaluation_inputs(self.num_samples, self.seed, dm.family)
        fitted_a = fit_a(gan.generate(inputs, slice(median_member, median_member + 1))[0].cpu(), dm.x)
        several = gan.members > 1
        scalars = {f"quality/{k}": v for k, v in summary.items() if k != "worst"}
        if several:
            scalars |= {f"quality/{k}_worst": v for k, v in summary["worst"].items()}
            scalars["members/diverged"] = float(diverged.sum())
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)
            add_histogram = getattr(logger.experiment, "add_histogram", None)
            if add_histogram is not None:
                # A collapsed generator shows as a spike instead of the family's spread.
                add_histogram("quality/a_fitted", fitted_a, step)
                if several:
                    for name in ("shape_rmse", "a_w1"):
                        add_histogram(f"members/{name}", per_member[name][~diverged], step)

        n = min(self.members_shown, len(ranking))
        shown = [ranking[round(i * (len(ranking) - 1) / max(1, n - 1))] for i in range(n)]
        image = self.figure(gan, dm, shown, per_member, diverged, summary, epoch, step)
        log_image(trainer, "curves/generated", image, step)
        if isinstance(dm.family, NormalMixture):
            title = f"member {median_member} (the median), {step} G updates"
            log_image(trainer, "curves/a_histogram", a_histogram(fitted_a, dm.family, title), step)
        if self.gif_path:
            name = f"epoch{epoch:03d}.png"
            save_png(image, Path(self.gif_path).parent / "frames" / name)
            self.frames.append(name)

    def figure(self, gan, dm, shown: list[int], per_member: dict, diverged, summary: dict, epoch: int, step: int):
        """The curves figure as RGB: one panel per shown member, each titled with its numbers."""
        # Several panels show fewer curves each, to stay legible (and the GIF small).
        preview = gan.preview_noise if len(shown) == 1 else gan.preview_noise[:PANEL_CURVES]
        if self.plot is None:
            colors, references, legend = gan.preview_style(dm, len(preview))
            self.plot = CurvePlot(dm.x, dm.family, len(preview), len(shown), colors, references, legend)
        curves = torch.cat([gan.generate(preview, slice(k, k + 1)).cpu() for k in shown])
        if gan.members == 1:
            titles = [
                f"epoch {epoch} · {step} G updates\nshape_rmse {summary['shape_rmse']:.3f} · a_w1 {summary['a_w1']:.3f}"
            ]
            return self.plot.render(curves, titles)
        titles = [
            f"#{k} diverged" if diverged[k] else f"#{k} {per_member['shape_rmse'][k]:.3f} {per_member['a_w1'][k]:.3f}"
            for k in shown
        ]
        suptitle = (
            f"epoch {epoch} · {step} G updates · median shape_rmse {summary['shape_rmse']:.3f} · a_w1"
            f" {summary['a_w1']:.3f}\n{len(shown)} of {gan.members} members, best to worst: #member shape_rmse a_w1"
        )
        return self.plot.render(curves, titles, suptitle)

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module) -> None:
        if self.gif_path and self.frames:
            path = Path(self.gif_path)
            save_gif([path.parent / "frames" / name for name in self.frames], path, self.gif_frame_ms)


def log_image(trainer: L.Trainer, tag: str, image: np.ndarray, step: int) -> None:
    """An RGB image to every logger that takes images: TensorBoard's IMAGES tab, W&B's media."""
    for logger in trainer.loggers:
        add_image = getattr(logger.experiment, "add_image", None)
        if add_image is not None:
            add_image(tag, image, step, dataformats="HWC")
        elif hasattr(logger, "log_image"):
            logger.log_image(tag, [image], step=step)


def save_png(image: np.ndarray, path: Path) -> None:
    """An RGB image as a PNG of 64 colours (a GIF frame has at most 256; line plots need far fewer): a third
    of the size of the full-colour file, and no difference to see."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    Image.fromarray(image).quantize(colors=64).save(partial, format="PNG")
    os.replace(partial, path)


def save_gif(frames: list[Path], path: Path, frame_ms: int) -> None:
    """Write PNG frames as a looping GIF, the last frame held longer."""
    from PIL import Image

    images = [Image.open(f) for f in frames]
    durations = [frame_ms] * (len(images) - 1) + [frame_ms * 4]
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    images[0].save(
        partial, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True
    )
    os.replace(partial, path)


class Progress(TQDMProgressBar):
    """In a terminal, Lightning's progress bar. Anywhere else (a file, CI, a sweep worker's log) the bar's
    carriage returns would flood the log, so there is no bar but one line per epoch: the epoch, G updates,
    losses, quality and speed."""

    def __init__(self, refresh_rate: int = 1, terminal: bool | None = None):
        super().__init__(refresh_rate=refresh_rate)
        self.terminal = sys.stdout.isatty() if terminal is None else terminal
        if not self.terminal:
            self.disable()
        self._epoch_start: tuple[float, int] | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        self._epoch_start = (time.perf_counter(), pl_module.g_updates)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if not self.terminal and trainer.is_global_zero:
            log.info(self.epoch_line(trainer, pl_module))

    def epoch_line(self, trainer: L.Trainer, gan) -> str:
        started, first = self._epoch_start or (time.perf_counter(), gan.g_updates)
        rate = (gan.g_updates - first) * gan.members / max(time.perf_counter() - started, 1e-9)
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}", f"{gan.g_updates} G updates"]
        losses = trainer.callback_metrics
        parts += [
            f"{name} {losses[f'train/{name}'].item():.3f}" for name in ("g_loss", "d_loss") if f"train/{name}" in losses
        ]
        monitor = next((c for c in trainer.callbacks if isinstance(c, CurveMonitor)), None)
        if monitor is not None and monitor.history and monitor.history[-1]["step"] == gan.g_updates:
            latest = monitor.history[-1]
            prefix = "median " if gan.members > 1 else ""
            parts.append(f"{prefix}shape_rmse {latest['shape_rmse']:.4f} · a_w1 {latest['a_w1']:.4f}")
        diverged = int((gan.diverged_at >= 0).sum())
        if diverged:
            parts.append(f"{diverged} of {gan.members} diverged")
        parts.append(f"{rate:,.0f} G updates/s" + (f" ({gan.members} GANs)" if gan.members > 1 else ""))
        return " · ".join(parts)


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
