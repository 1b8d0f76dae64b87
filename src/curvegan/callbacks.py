"""What a run shows and keeps while it trains: quality metrics, a figure of samples, the frames of progress.gif,
progress, checkpoints, and a clean stop on a signal."""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.utilities import rank_zero_only

from curvegan.config import Evaluation
from curvegan.evaluation import Evaluator
from curvegan.images import log_image, log_layout, save_gif, save_png, takes_images
from curvegan.keys import BOOLEAN, TEXT, Rule, defaults, key, keys_of, optional, settings, whole
from curvegan.metrics import METRICS, headline, summarize
from curvegan.sampling import d_view, evaluation_inputs
from curvegan.signals import StopOnSignal
from curvegan.training_log import NAMES

log = logging.getLogger(__name__)


class Checkpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, with its `state_key` computed once and no version counter (below).

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
        # A run's checkpoints keep their names: with Lightning's version counter, a resumed run whose last.ckpt
        # this callback had not written itself (written on a stop by a signal, or in another run dir) wrote
        # last-v1.ckpt and left last.ckpt at the resumed state, for ckpt_path=last and the sampler to find.
        super().__init__(**asdict(settings(type(self), config)), enable_version_counter=False)

    @cached_property
    def state_key(self) -> str:
        return super().state_key


EVALUATION = Rule(
    lambda v: set(v) <= set(keys_of(Evaluation)),
    f"a group of the run's evaluation keys ({', '.join(keys_of(Evaluation))})",
    1,
)


class Monitor(L.Callback):
    """Every `every_n_epochs` epochs: measure every member on `num_samples` samples and log `1_quality/*` (the
    median member's values; with several members also the worst, as `worst/<metric>`, the interquartile band as
    `spread/*`, and histograms of the members' values), a histogram of the fitted parameter of the median member's
    samples, D's view, and the figures.

    The figures, each sized for a TensorBoard card (curvegan.plots): `figures/generated`, the median member's
    samples (a family of points: every sample it scored); for an ensemble `figures/best_median_worst` and
    `figures/members_<page>`, the other members from best to worst (by the family's objective), three a card;
    for a family of modes `figures/mode_coverage`, modes × epochs. They go to every logger that takes images and,
    with `gif_path`, the main one to a PNG in frames/ beside the GIF: the GIF's frames, assembled when fit ends.
    The quality history and the mode coverage (for metrics.json) and the list of frames are part of the callback's
    checkpointed state, so a resumed run's history, map and GIF cover the whole run.
    """

    @dataclass
    class Config:
        every_n_epochs: int = key(1, whole(1), "measure, log and draw every this many epochs (and after the last)")
        evaluation: Any = key(
            defaults(Evaluation), EVALUATION, "the run's evaluation keys (${evaluation}): the samples measured"
        )
        gif_path: str | None = key(None, optional(TEXT), "progress.gif's path; null: no GIF")
        gif_frame_ms: int = key(400, whole(1), "each GIF frame's duration")
        members_shown: int = key(
            16, whole(1, 16), "members in figures/members_*, 3 a page, besides the best, the median and the worst"
        )
        degenerate_metrics: bool = key(
            False,
            BOOLEAN,
            "also log the generic metrics the family declares degenerate (curves: precision, recall, density,"
            " coverage; docs/metrics.md); metrics.json and the report have them either way",
        )

    def __init__(self, **config):
        self.config = c = settings(type(self), config)
        self.every_n_epochs, self.evaluate = c.every_n_epochs, Evaluator(c.evaluation)
        self.gif_path, self.gif_frame_ms, self.members_shown = c.gif_path, c.gif_frame_ms, c.members_shown
        self.history: list[dict] = []
        self.coverage: list[tuple[int, int, list[float]]] = []  # a family of modes: (epoch, step, mode shares)
        self.frames: list[str] = []  # the PNG files of the GIF's frames, in frames/ beside it
        self.plots: dict = {}  # the figures (curvegan.plots.SamplePlot), built at the first measurement
        # In a packed sweep (curvegan.packed) each job has a monitor of its own: its number, its loggers (not the
        # trainer's), and the view of the model that shows its members only.
        self.job: int | None = None
        self.loggers: list | None = None
        self.view = None

    @cached_property
    def state_key(self) -> str:
        return super().state_key if self.job is None else f"{type(self).__qualname__}{{job={self.job}}}"

    def loggers_of(self, trainer: L.Trainer) -> list:
        return trainer.loggers if self.loggers is None else self.loggers

    def state_dict(self) -> dict:
        return {"history": self.history, "frames": self.frames, "coverage": self.coverage}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict["history"])
        self.frames = [name for name in state_dict["frames"] if isinstance(name, str)]
        coverage = state_dict.get("coverage", [])
        self.coverage = [(int(epoch), int(step), [float(v) for v in shares]) for epoch, step, shares in coverage]

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module) -> None:
        if (trainer.current_epoch + 1) % self.every_n_epochs == 0 or trainer.current_epoch + 1 == trainer.max_epochs:
            self.measure(trainer, pl_module if self.view is None else self.view(pl_module))

    @rank_zero_only
    def measure(self, trainer: L.Trainer, gan) -> None:
        per_member = self.evaluate(gan, epoch=True)
        diverged = (gan.diverged_at >= 0).cpu()
        summary = summarize(per_member, ~diverged)
        step, epoch = gan.g_updates, trainer.current_epoch + 1
        self.history.append({"epoch": epoch, "step": step, **summary})

        # Members from best to worst (diverged ones last): the figures show the best, the median and the worst.
        ranking = (per_member["objective"].nan_to_num(math.inf) + diverged * 1e9).argsort().tolist()
        median_member = ranking[(len(ranking) - 1 - int(diverged.sum())) // 2]
        several = gan.members > 1
        # The family's and the variant's own metrics, then the generic ones and the worst members, each a section.
        hidden = {"worst"} | (set() if self.config.degenerate_metrics else set(gan.family.degenerate))
        scalars = {f"{METRICS[k].section}/{k}": v for k, v in summary.items() if k not in hidden}
        if several:
            scalars |= {f"worst/{k}": v for k, v in summary["worst"].items() if k not in hidden}
            scalars |= spread({k: v for k, v in per_member.items() if k not in hidden}, ~diverged, summary)
        if diverged.any():
            scalars["members/diverged"] = float(diverged.sum())
        scalars = {k: v for k, v in scalars.items() if math.isfinite(v)}  # undefined (mode_kl): not a number to plot
        family = gan.family
        fitted = scored = None
        loggers = self.loggers_of(trainer)
        drawn = [logger for logger in loggers if takes_images(logger)]
        shown = drawn or self.gif_path or any(hasattr(lg.experiment, "add_histogram") for lg in loggers)
        if (family.parameters and shown) or family.mode_labels() or (family.draws_scored and (drawn or self.gif_path)):
            inputs, _ = self.scored_inputs(gan)  # the median member's scored samples, drawn once for all below
            scored = gan.generate(inputs, slice(median_member, median_member + 1))[0].float().cpu()  # [n, dim]
        if family.parameters and shown:
            fitted = family.fit_parameters(scored)  # [n, P]
        if family.mode_labels():  # a family of modes: its coverage map (TensorBoard, metrics.json, the report)
            self.coverage.append((epoch, step, (family.mode_counts(scored) / len(scored)).tolist()))
        if several and not self.plots.get("layout"):  # this process's first measurement: the spread's charts
            shown = [k for k in (*family.shown, *gan.variant.shown) if k in summary["worst"]]
            log_layout(loggers, spread_layout(shown))
            self.plots["layout"] = True
        d_scores = None
        for logger in loggers:
            logger.log_metrics(scalars, step=step)
            add_histogram = getattr(logger.experiment, "add_histogram", None)
            if add_histogram is None:
                continue
            histograms = {}
            if fitted is not None:  # a collapsed generator shows as a spike instead of the family's spread
                histograms |= {f"histograms/{p}_fitted": fitted[:, k] for k, p in enumerate(family.parameters)}
            if several:
                histograms |= {f"histograms/members_{k}": per_member[k][~diverged] for k in family.shown}
            if d_scores is None:  # D's view of the median member: collapse and an overconfident D show
                d_scores = d_view(gan, median_member, self.evaluate.seed)
            histograms |= {"histograms/d_scores_real": d_scores[0], "histograms/d_scores_fake": d_scores[1]}
            for tag, values in histograms.items():
                values = values[values.isfinite()]
                if not len(values):  # every member diverged or every sample undefined: nothing to count
                    continue
                try:
                    add_histogram(tag, values, step)
                except ValueError:  # values TensorBoard cannot bin (near float32's range): that histogram is left out
                    continue

        if drawn or self.gif_path:  # no figure where none is shown
            self.draw(gan, drawn, ranking, median_member, per_member, diverged, summary, fitted, scored, epoch, step)
        for logger in loggers:  # what was logged this epoch, to the files (TensorBoard shows it)
            logger.save()

    def draw(self, gan, loggers, ranking, median_member, per_member, diverged, summary, fitted, scored, epoch, step):
        """This epoch's figures to the loggers that show images, and the GIF's frame."""
        from curvegan.plots import parameter_histogram  # matplotlib: only a run that draws imports it

        several, family = gan.members > 1, gan.family
        frame = image = self.figure(gan, ranking, median_member, scored, summary, epoch, step)
        # figures/ sorts first: TensorBoard's default dashboard opens with them
        log_image(loggers, "figures/generated", image, step)
        if several:
            kept = len(ranking) - int(diverged.sum())
            extremes = [ranking[0], median_member, ranking[max(0, kept - 1)]]
            image = self.members_figure(gan, extremes, per_member, diverged, step, "best_median_worst")
            log_image(loggers, "figures/best_median_worst", image, step)
            for page, picked in enumerate(member_pages(ranking, extremes, self.members_shown), start=1):
                image = self.members_figure(gan, picked, per_member, diverged, step, "members", ranking)
                log_image(loggers, f"figures/members_{page}", image, step)
        if self.coverage and loggers:
            from curvegan.plots import coverage_map

            title = (
                "share of samples, high quality at each mode · the median member · white: none, a miss"
                " (PacGAN's count) · red line: where modes_captured counts a mode"
            )
            epochs, steps, shares = zip(*self.coverage, strict=True)
            image = coverage_map(family, list(epochs), steps[-1], torch.tensor(shares), self.evaluate.n, title)
            log_image(loggers, "figures/mode_coverage", image, step)
        if fitted is not None and family.parameter_modes() is not None:
            first = family.parameters[0]
            title = f"{first}* of member {median_member} (the median) · {step:,} G updates"
            histogram = parameter_histogram(fitted[:, 0], family, title)
            log_image(loggers, f"figures/{first}_histogram", histogram, step)
        if self.gif_path:
            name = f"epoch{epoch:03d}.png"
            save_png(frame, Path(self.gif_path).parent / "frames" / name)
            self.frames.append(name)

    def figure(self, gan, ranking: list[int], median: int, scored, summary: dict, epoch, step):
        """The main figure, as RGB, for a TensorBoard card: one run's samples titled with its numbers; for an
        ensemble, its median member's, titled with the median's and the worst member's numbers (the card is too
        small for more than one panel to be read: the others are figures/best_median_worst and figures/members_*)."""
        from curvegan.plots import SamplePlot, style_of, wrap_card

        shown = [k for k in (*gan.family.shown, *gan.variant.shown) if k in summary]  # InfoGAN without a code: none
        numbers = headline({k: summary[k] for k in shown}, digits=3, always=True)
        if gan.members == 1:
            title = f"epoch {epoch} · {step:,} G updates\n{numbers}"
        else:
            worst = values(summary["worst"], [k for k in shown if k in summary["worst"]])
            title = f"#{median}: median of {gan.members} · {step:,} G updates\n{numbers}\nworst member: {worst}"
        title = wrap_card(title)
        inputs, fixed = self.shown_inputs(gan)
        if "main" not in self.plots:  # as many lines of title as the first one takes (its values are as wide)
            style = style_of(fixed, gan.family, len(inputs))
            lines = title.count("\n") + 1
            self.plots["main"] = SamplePlot(gan.family, len(inputs), style=style, lines=lines)
        # a family of points draws the median's scored samples (measure drew them); curves, the preview's
        samples = (
            scored[None] if gan.family.draws_scored else gan.generate(inputs, slice(median, median + 1)).float().cpu()
        )
        return self.plots["main"].render(samples, [title])

    def members_figure(self, gan, picked, per_member, diverged, step, tag, ranking=None):
        """Members side by side on a card, each titled with its numbers: the best, the median and the worst
        (`best_median_worst`), or a page of up to three others from best to worst (`members`)."""
        from curvegan.plots import PANEL_SAMPLES, SamplePlot, style_of, wrap, wrap_card

        shown = [k for k in (*gan.family.shown, *gan.variant.shown) if k in per_member]
        if tag == "best_median_worst":
            labels = [f"#{k} {rank}" for k, rank in zip(picked, ("best", "median", "worst"), strict=True)]
            what = f"best, median, worst of {gan.members}"
        else:
            ranks = [ranking.index(k) + 1 for k in picked]
            labels = [f"#{k}: {r} of {gan.members}" for k, r in zip(picked, ranks, strict=True)]
            what = f"ranked {ranks[0]} to {ranks[-1]} of {gan.members}" if len(ranks) > 1 else labels[0]
        header = wrap_card(
            f"{what} · {step:,} G updates\nranked by {gan.family.objective_says}\neach: {', '.join(shown)}"
            " · red: collapsed"
        )
        inputs, fixed = self.shown_inputs(gan, PANEL_SAMPLES)
        name = f"{tag}{len(picked)}"  # a page of fewer panels is a figure of its own
        if name not in self.plots:
            style = style_of(fixed, gan.family, len(inputs))
            style.pop("legend", None)
            lines = 1 + (len(shown) + 1) // 2  # a card's panel: two numbers a line
            header_lines = header.count("\n") + 1
            self.plots[name] = SamplePlot(
                gan.family, len(inputs), len(picked), style, len(picked), lines, header_lines=header_lines
            )
        collapsed = gan.family.collapsed(per_member)
        samples = torch.cat([gan.generate(inputs, slice(k, k + 1)).float().cpu() for k in picked])
        titles = []
        for k, label in zip(picked, labels, strict=True):
            numbers = "diverged" if diverged[k] else values(per_member, shown, k)
            titles.append(f"{label}\n{wrap(numbers, 14)}")
        marked = [bool(collapsed[k] or diverged[k]) for k in picked]
        return self.plots[name].render(samples, titles, header, marked)

    def coverage_record(self, family) -> dict | None:
        """metrics.json's `mode_coverage`: each measured epoch's share of the samples that are high quality at
        each mode, for that epoch's median member; None for a family without modes."""
        if not self.coverage:
            return None
        epochs, steps, shares = (list(v) for v in zip(*self.coverage, strict=True))
        return {
            "modes": family.mode_labels(),
            "samples": self.evaluate.n,
            "epochs": epochs,
            "steps": steps,
            "shares": shares,
        }

    def shown_inputs(self, gan, curves: int | None = None):
        """(inputs, their labels) that a figure draws: the model's fixed preview (its first `curves`), or for a
        family of points every sample it scores (the same as the numbers in the title)."""
        if gan.family.draws_scored:
            return self.scored_inputs(gan)
        return gan.preview_noise[:curves], gan.preview

    def scored_inputs(self, gan):
        """(inputs, labels) of the samples every measurement scores (samples.npy's)."""
        if "scored" not in self.plots:
            self.plots["scored"] = evaluation_inputs(gan, self.evaluate.n, self.evaluate.seed)
        return self.plots["scored"]

    @rank_zero_only
    def on_fit_end(self, trainer: L.Trainer, pl_module) -> None:
        if self.gif_path and self.frames:
            path = Path(self.gif_path)
            # The frames this run dir holds: a run resumed into another run dir has only the epochs since (the
            # earlier frames stay in the old one), and a frame is a file name in frames/, nothing else.
            frames = [path.parent / "frames" / name for name in self.frames if Path(name).name == name]
            frames = [frame for frame in frames if frame.is_file()]
            if frames:
                save_gif(frames, path, self.gif_frame_ms)


PAGE_PANELS = 3  # members on one card's figure, in a row as best_median_worst: more are unreadable on a card


def member_pages(ranking: list[int], extremes: list[int], shown: int) -> list[list[int]]:
    """figures/members_<page>: up to `shown` members other than the best, the median and the worst (their own
    figure), spread over the ranking from best to worst, in pages of at most PAGE_PANELS, as even as can be."""
    others = [k for k in ranking if k not in extremes]
    n = min(shown, len(others))
    picked = [others[round(i * (len(others) - 1) / max(1, n - 1))] for i in range(n)]
    pages = -(-n // PAGE_PANELS)
    if not pages:  # three members or fewer: figures/best_median_worst shows them all
        return []
    sizes = [n // pages + (i < n % pages) for i in range(pages)]  # the fuller pages first
    starts = [sum(sizes[:i]) for i in range(pages)]
    return [picked[start : start + size] for start, size in zip(starts, sizes, strict=True)]


def spread(per_member: dict, kept: torch.Tensor, summary: dict) -> dict[str, float]:
    """`spread/<metric>_q25` and `_q75`: the interquartile band over the kept members of each metric with a
    direction, at the steps where its median is defined (a margin chart needs all three at each step); a member
    whose value is undefined (mode_kl without a high-quality sample) is left out of the band."""
    out = {}
    for name, values in per_member.items():
        if not METRICS[name].better or not math.isfinite(summary.get(name, math.nan)):
            continue
        values = values[kept].double()
        values = values[values.isfinite()]
        if len(values):
            out |= {f"spread/{name}_q{q}": values.quantile(q / 100).item() for q in (25, 75)}
    return out


def spread_layout(names: list[str]):
    """TensorBoard's custom scalars layout (its CUSTOM SCALARS tab): for each metric one margin chart of the
    median member with the members' interquartile band, and the worst member."""
    from tensorboard.plugins.custom_scalar import layout_pb2

    charts = []
    for name in names:
        metric = METRICS[name]
        tag = f"{metric.section}/{name}"
        title = (
            f"{name}: the median member, the middle half of the members (band), the worst ({metric.better} is better)"
        )
        if metric.undefined:
            title += "; the band leaves out members where it is undefined"
        if metric.count:
            title += "; a count: set smoothing to 0 to see whole numbers"
        series = [
            layout_pb2.MarginChartContent.Series(value=tag, lower=f"spread/{name}_q25", upper=f"spread/{name}_q75"),
            layout_pb2.MarginChartContent.Series(value=f"worst/{name}", lower=f"worst/{name}", upper=f"worst/{name}"),
        ]
        charts.append(layout_pb2.Chart(title=title, margin=layout_pb2.MarginChartContent(series=series)))
    return layout_pb2.Layout(category=[layout_pb2.Category(title="the members' spread", chart=charts)])


def values(per_member: dict, names: list[str], k: int | None = None) -> str:
    """The values of `names`, three decimals each, a member's (k) or a summary's, as "0.031 · 0.087"."""
    shown = []
    for name in names:
        value = float(per_member[name] if k is None else per_member[name][k])
        shown.append("–" if not math.isfinite(value) else f"{value:.0f}" if value.is_integer() else f"{value:.3f}")
    return " · ".join(shown)


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

    def on_train_start(self, trainer: L.Trainer, pl_module) -> None:
        super().on_train_start(trainer, pl_module)
        self._epoch_start = (time.perf_counter(), pl_module.g_updates)  # a run resumed within an epoch starts here

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
        losses = gan.training_log.values
        parts += [f"{tag.split('/')[1]} {losses[tag]:.3f}" for tag in NAMES[:2] if tag in losses]
        monitor = next((c for c in trainer.callbacks if isinstance(c, Monitor) and c.job is None), None)
        if monitor is not None and monitor.history and monitor.history[-1]["step"] == gan.g_updates:
            latest = {k: v for k, v in monitor.history[-1].items() if k not in ("epoch", "step", "worst")}
            parts.append(("median " if gan.members > 1 else "") + headline(latest))
        diverged = int((gan.diverged_at >= 0).sum())
        if diverged:
            parts.append(f"{diverged} of {gan.members} diverged")
        parts.append(f"{rate:,.0f} G updates/s" + (f" ({gan.members} GANs)" if gan.members > 1 else ""))
        return " · ".join(parts)


# The callbacks group's nodes: callbacks.NAME (configs/callbacks/default.yaml).
CALLBACKS = {"checkpoint": Checkpoint, "monitor": Monitor, "progress_bar": Progress, "stop_on_signal": StopOnSignal}
