"""curvegan.report's two figures, sized to be read at their saved size in a README column (about 830 pixels)."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator

FONT = {"font.size": 11, "axes.titlesize": 12, "figure.titlesize": 12, "legend.fontsize": 10}


def decimal(value: float, _=None) -> str:
    """A tick label as a plain decimal with as few digits as it needs: 0.05, 0.1, 2."""
    return f"{value:.6f}".rstrip("0").rstrip(".") if value < 1 else f"{value:g}"


def common_prefix(settings: list[str]) -> tuple[str, list[str]]:
    """The overrides most settings share (for the title), and each setting without them. An override is taken
    out of the labels when more than half of the settings have it and every setting names its key, so a label
    that differs still says its own value ("ensemble.size=32" where most are ensemble.size=8)."""
    split = [s.split(" ") for s in settings]
    keys = [{t.split("=", 1)[0] for t in s} for s in split]
    tokens = dict.fromkeys(t for s in split for t in s)
    shared = [
        t
        for t in tokens
        if len(settings) > 1
        and sum(t in s for s in split) * 2 > len(settings)
        and all(t.split("=", 1)[0] in k for k in keys)
    ]
    return " ".join(shared), [" ".join(t for t in s if t not in shared) or "(the shared overrides)" for s in split]


def strip_figure(rows: list[dict], settings: list[str], metrics: list[str], declared: dict, path: Path) -> None:
    """Each setting's members as dots (best setting on top), one panel per metric, over a black bar at the
    median and a red one at the 90th percentile towards worse; n per setting in its label."""
    from curvegan.verdicts import towards_worse

    shared, labels = common_prefix(settings)
    counts = {s: sum(r["setting"] == s for r in rows) for s in settings}
    with mpl.rc_context(FONT):
        # about a thousand pixels for three metrics, the direction under each metric
        width = (2.4 if len(metrics) >= 3 else 3.0) * len(metrics) + min(3.5, 0.075 * max(len(s) for s in labels) + 0.8)
        fig = Figure(figsize=(width, 1.5 + 0.42 * len(settings)), dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
        for ax, metric in zip(axes, metrics, strict=True):
            better = declared[metric]["better"] or "lower"
            for y, setting in enumerate(settings):
                values = [r.get(metric) for r in rows if r["setting"] == setting and not r.get("diverged")]
                values = [v for v in values if v is not None and math.isfinite(v)]
                if not values:
                    continue
                ax.plot([statistics.median(values)] * 2, [y - 0.38, y + 0.38], color="black", lw=2.5, zorder=2)
                ax.plot([towards_worse(values, 90, better)] * 2, [y - 0.28, y + 0.28], color="tab:red", lw=2, zorder=2)
                jitter = [((i * 0.618) % 1 - 0.5) * 0.5 for i in range(len(values))]
                ax.scatter(values, [y + j for j in jitter], s=14, alpha=0.6, color="tab:blue", lw=0, zorder=3)
            if declared[metric].get("log_scale"):
                ax.set_xscale("log")
                ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
                ax.xaxis.set_major_formatter(FuncFormatter(decimal))
            direction = {"lower": "lower is better", "higher": "higher is better"}.get(declared[metric]["better"], "")
            ax.set_xlabel(f"{metric}" + (f"\n({direction})" if direction else ""))
            ax.grid(alpha=0.3, axis="x", which="both")
        axes[0].set_yticks(
            range(len(settings)), [f"{label} (n={counts[s]})" for label, s in zip(labels, settings, strict=True)]
        )
        axes[0].set_ylim(len(settings) - 0.5, -0.5)
        title = "Each dot a member · black: median · red: 90th percentile towards worse"
        fig.suptitle(title + (f"\nevery setting, unless its label says otherwise: {shared}" if shared else ""))
        fig.tight_layout()
        fig.savefig(path)


def worst_of(record: dict, metric: str):
    """An epoch's worst member's value of `metric` (an ensemble's history has it), else None."""
    worst = record.get("worst")
    value = worst.get(metric) if isinstance(worst, dict) else None
    return value if isinstance(value, int | float) and math.isfinite(value) else None


def declared_better(jobs: list[dict], metric: str) -> str:
    return jobs[0].get("declarations", {}).get(metric, {}).get("better", "")


def history_figure(by_setting: dict[str, list[dict]], metrics: list[str], path: Path) -> None:
    """Each metric over training: per setting (its jobs with a history), the median over its jobs of each job's
    median member."""
    shared, labels = common_prefix(list(by_setting))
    with mpl.rc_context(FONT):
        fig = Figure(figsize=(8.3, 3.6 + 0.22 * len(by_setting)), dpi=100)
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, max(1, len(metrics)), squeeze=False)[0]
        banded = False
        for label, members in zip(labels, by_setting.values(), strict=True):
            length = min(len(j["history"]) for j in members)
            steps = [members[0]["history"][i]["step"] for i in range(length)]
            for ax, metric in zip(axes, metrics, strict=False):
                values = [j["history"][i].get(metric) for j in members for i in range(length)]
                if any(v is None for v in values):
                    continue
                medians = [statistics.median(j["history"][i][metric] for j in members) for i in range(length)]
                (line,) = ax.plot(steps, medians, marker=".", label=label)
                worsts = [[worst_of(j["history"][i], metric) for j in members] for i in range(length)]
                if all(None not in w for w in worsts):  # ensembles: the band reaches the worst member of any job
                    pick = max if declared_better(members, metric) == "lower" else min
                    ax.fill_between(steps, medians, [pick(w) for w in worsts], color=line.get_color(), alpha=0.18, lw=0)
                    banded = True
        for ax, metric in zip(axes, metrics, strict=False):
            ax.set_xlabel("G updates")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
        handles, names = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, names, loc="lower center", ncols=min(3, len(names)), frameon=False)
        what = "The median member (line) and the worst (the band's edge)" if banded else "The median member"
        fig.suptitle(
            f"{what} of each setting through training"
            + (f"\nunless a label says otherwise: {shared}" if shared else "")
        )
        fig.tight_layout(rect=(0, 0.06 * math.ceil(len(names) / 3) + 0.02, 1, 1))
        fig.savefig(path)


def coverage_figure(covered: dict[str, dict], path: Path) -> None:
    """The mode coverage map of each setting (its median job's median member: curvegan.plots.coverage_map), three
    a row, best setting first; one colour bar."""
    from curvegan.plots import coverage_bar, draw_coverage

    shared, labels = common_prefix(list(covered))
    cols = min(3, len(covered))
    rows = -(-len(covered) // cols)
    with mpl.rc_context(FONT):
        fig = Figure(figsize=(8.3, 2.4 * rows + 1.2), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, cols, squeeze=False, sharey=True).flat
        image = None
        for ax, label, job in zip(axes, labels, covered.values(), strict=False):
            record = job["mode_coverage"]
            image = draw_coverage(ax, record["shares"], record["epochs"], record["modes"], record["samples"], 9)
            ax.set_title(label, fontsize=10)
        for ax in list(axes)[len(covered) :]:
            ax.axis("off")
        record = next(iter(covered.values()))["mode_coverage"]
        coverage_bar(fig, image, fig.axes[: len(covered)], len(record["modes"]), record["samples"], 9)
        fig.supxlabel("epoch", fontsize=10)
        fig.suptitle(
            "Which modes each setting covers through training: its median job's median member; each cell the share"
            " of samples high quality at that mode (white: none, a miss by PacGAN's count; red line: where"
            " modes_captured counts a mode)" + (f"; every setting: {shared}" if shared else ""),
            fontsize=10,
            wrap=True,
        )
        fig.savefig(path)
