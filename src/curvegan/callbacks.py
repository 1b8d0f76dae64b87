"""What a run shows and keeps while it trains: quality metrics, a figure of samples, the frames of progress.gif,
progress, checkpoints, and a clean stop on a signal."""

from __future__ import annotations

import logging
import math
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_only

from curvegan import Interrupted
from curvegan.evaluation import evaluate
from curvegan.keys import BOOLEAN, SEED, TEXT, key, optional, settings, whole
from curvegan.metrics import METRICS, headline, summarize

log = logging.getLogger(__name__)


class Checkpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, with its `state_key` computed once.

    Lightning formats every callback's state_key around each hook call; ModelCheckpoint builds its key anew each
    time, which made it cost about 9% of a training step (benchmarks/speed.py). The key depends only on settings
    fixed at construction, so caching it changes nothing else.
    """

    @dataclass
    class Config:
        dirpath: str | None = key(None, optional(TEXT), "where checkpoints go (the run dir's checkpoints/)")
        filename: str = key("epoch{epoch:03d}", TEXT, "each epoch's checkpoint's name")
        auto_insert_metric_name: bool = key(False, BOOLEAN, "Lightning's metric names in file names")
        every_n_epochs: int = key(1, whole(1), "a checkpoint every this many epochs")
        save_top_k: int = key(-1, whole(-1), "-1: keep every epoch's checkpoint (a few KB each) besides last.ckpt")
        save_last: bool = key(True, BOOLEAN, "also keep last.ckpt, what ckpt_path=last resumes from")

    def __init__(self, **config):
        super().__init__(**asdict(settings(type(self), config)))

    @cached_property
    def state_key(self) -> str:
        return super().state_key


class Monitor(L.Callback):
    """Every `every_n_epochs` epochs: measure every member on `num_samples` samples and log `quality/*` (the
    median member's values; with several members also the worst, as `quality/<metric>_worst`, and histograms
    of the members' values under `members/`), a histogram of the fitted parameter of the median member's
    samples, and a figure of samples.

    The figure shows, from the model's fixed preview inputs over the real family, one panel per member for up to
    `members_shown` members, ordered from best to worst (by the family's objective) and spread over the whole
    ranking. It goes to every logger that takes images (TensorBoard's IMAGES tab) and, with `gif_path`, to a PNG
    in frames/ beside the GIF: the GIF's frames, assembled when fit ends. The quality history (for metrics.json)
    and the list of frames are part of the callback's checkpointed state, so a resumed run's history and GIF
    cover the whole run.
    """

    @dataclass
    class Config:
        every_n_epochs: int = key(1, whole(1), "measure, log and draw every this many epochs (and after the last)")
        num_samples: int = key(10000, whole(2), "samples behind each epoch's quality/* (evaluation.num_samples)")
        seed: int = key(1234, SEED, "their noise seed (evaluation.seed)")
        gif_path: str | None = key(None, optional(TEXT), "progress.gif's path; null: no GIF")
        gif_frame_ms: int = key(400, whole(1), "each GIF frame's duration")
        members_shown: int = key(16, whole(1, 16), "panels in the figure: members from best to worst")

    def __init__(self, **config):
        self.config = c = settings(type(self), config)
        self.every_n_epochs, self.num_samples, self.seed = c.every_n_epochs, c.num_samples, c.seed
        self.gif_path, self.gif_frame_ms, self.members_shown = c.gif_path, c.gif_frame_ms, c.members_shown
        self.history: list[dict] = []
        self.frames: list[str] = []  # the PNG files of the GIF's frames, in frames/ beside it
        self.plot = None  # the figure (curvegan.plots.SamplePlot), built at the first measurement

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
        from curvegan.plots import parameter_histogram  # matplotlib: only a run that draws imports it

        per_member = evaluate(gan, self.num_samples, self.seed)
        diverged = (gan.diverged_at >= 0).cpu()
        summary = summarize(per_member, ~diverged)
        step, epoch = gan.g_updates, trainer.current_epoch + 1
        self.history.append({"epoch": epoch, "step": step, **summary})

        # Members from best to worst (diverged ones last); the figure shows some spread over that ranking.
        ranking = (per_member["objective"].nan_to_num(math.inf) + diverged * 1e9).argsort().tolist()
        median_member = ranking[(len(ranking) - 1 - int(diverged.sum())) // 2]
        several = gan.members > 1
        scalars = {f"quality/{k}": v for k, v in summary.items() if k != "worst"}
        if several:
            scalars |= {f"quality/{k}_worst": v for k, v in summary["worst"].items()}
            scalars["members/diverged"] = float(diverged.sum())
        family = gan.family
        fitted = None
        if family.parameter is not None:
            inputs, _ = gan.variant.evaluation_inputs(self.num_samples, self.seed)
            median_samples = gan.generate(inputs, slice(median_member, median_member + 1))[0].float().cpu()
            fitted = family.fit_parameter(median_samples)
        for logger in trainer.loggers:
            logger.log_metrics(scalars, step=step)
            add_histogram = getattr(logger.experiment, "add_histogram", None)
            if add_histogram is not None:
                if fitted is not None:  # a collapsed generator shows as a spike instead of the family's spread
                    add_histogram("quality/a_fitted", fitted, step)
                if several:
                    for name in ("shape_rmse", "a_w1"):
                        if name in per_member:
                            add_histogram(f"members/{name}", per_member[name][~diverged], step)

        n = min(self.members_shown, len(ranking))
        shown = [ranking[round(i * (len(ranking) - 1) / max(1, n - 1))] for i in range(n)]
        image = self.figure(gan, shown, per_member, diverged, summary, epoch, step)
        log_image(trainer, "curves/generated", image, step)
        if fitted is not None and family.parameter_modes() is not None:
            title = f"member {median_member} (the median), {step} G updates"
            log_image(trainer, "curves/a_histogram", parameter_histogram(fitted, family, title), step)
        if self.gif_path:
            name = f"epoch{epoch:03d}.png"
            save_png(image, Path(self.gif_path).parent / "frames" / name)
            self.frames.append(name)

    def figure(self, gan, shown: list[int], per_member: dict, diverged, summary: dict, epoch: int, step: int):
        """The samples figure as RGB: one panel per shown member, each titled with its numbers."""
        from curvegan.plots import PANEL_SAMPLES, SamplePlot

        # Several panels show fewer samples each, to stay legible (and the GIF small).
        preview = gan.preview_noise if len(shown) == 1 else gan.preview_noise[:PANEL_SAMPLES]
        if self.plot is None:
            self.plot = SamplePlot(gan.family, len(preview), len(shown), gan.variant.preview_style(len(preview)))
        samples = torch.cat([gan.generate(preview, slice(k, k + 1)).float().cpu() for k in shown])
        first, second = [m for m in per_member if METRICS[m].headline][:2]
        if gan.members == 1:
            shown = headline({first: summary[first], second: summary[second]}, digits=3)
            return self.plot.render(samples, [f"epoch {epoch} · {step} G updates\n{shown}"])
        titles = [
            f"#{k} diverged" if diverged[k] else f"#{k} {per_member[first][k]:.3f} {per_member[second][k]:.3f}"
            for k in shown
        ]
        suptitle = (
            f"epoch {epoch} · {step} G updates · median {first} {summary[first]:.3f} · {second}"
            f" {summary[second]:.3f}\n{len(shown)} of {gan.members} members, best to worst: #member {first} {second}"
        )
        return self.plot.render(samples, titles, suptitle)

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
    Image.fromarray(image).quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(partial, format="PNG")
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

    @dataclass
    class Config:
        refresh_rate: int = key(1, whole(0), "the bar's refresh, in training_step calls (data.batches_per_step each)")

    def __init__(self, terminal: bool | None = None, **config):
        super().__init__(**asdict(settings(type(self), config)))
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
        monitor = next((c for c in trainer.callbacks if isinstance(c, Monitor)), None)
        if monitor is not None and monitor.history and monitor.history[-1]["step"] == gan.g_updates:
            latest = {k: v for k, v in monitor.history[-1].items() if k not in ("epoch", "step", "worst")}
            parts.append(("median " if gan.members > 1 else "") + headline(latest))
        diverged = int((gan.diverged_at >= 0).sum())
        if diverged:
            parts.append(f"{diverged} of {gan.members} diverged")
        parts.append(f"{rate:,.0f} G updates/s" + (f" ({gan.members} GANs)" if gan.members > 1 else ""))
        return " · ".join(parts)


class StopOnSignal(L.Callback):
    """SIGTERM (how schedulers end jobs) or Ctrl-C: finish the current training_step, write `ckpt_path`, stop.

    Stopping only between steps keeps the checkpoint consistent (no half-done D/G update), so resuming from it
    continues the run exactly. The exception raised ends `fit`; `train` turns it into a one-line message. A
    SIGTERM that lands while Lightning's own end-of-epoch checks see it first ends `fit` with Lightning's
    SIGTERMException instead: Lightning calls `on_exception`, which writes the checkpoint of the state there.
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

    def on_fit_start(self, trainer: L.Trainer, pl_module) -> None:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._note) for s in (signal.SIGINT, signal.SIGTERM)}

    def on_train_batch_end(self, trainer: L.Trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.received is not None:
            trainer.save_checkpoint(self.ckpt_path)
            raise Interrupted(self.received, self.ckpt_path, pl_module.g_updates)

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


# The callbacks group's nodes: callbacks.NAME (configs/callbacks/default.yaml).
CALLBACKS = {"checkpoint": Checkpoint, "monitor": Monitor, "progress_bar": Progress, "stop_on_signal": StopOnSignal}
