"""PacGAN's Table 1 (Lin et al., 2018) for the 2-D ring and the 2-D grid, ours beside the paper's:
`make literature` runs it on a GPU and writes docs/literature.md and docs/literature.png.

    python benchmarks/literature.py [--updates 400000] [--data ring,grid] [--trainer gpu] [--out docs]

For each data set, GAN, PacGAN2, PacGAN3 and PacGAN4 (`experiment=pacgan_ring` / `pacgan_grid`, model.pack 1-4),
each its 10 seeds as one ensemble, in the setting of the paper's code (configs/experiment/pacgan_ring.yaml). As
there, a pack of m takes m × 100 samples a batch (100 packed examples) and an epoch is 1,000 batches. Scored on
2,500 samples per member as PacGAN's MetricLogger scores them (curvegan.families.ring). Each row: the mean ±
standard error over the 10 members of modes (pacgan_modes), the high-quality share (%) and the reverse KL
(mode_kl), beside the paper's. The three metrics are logged every epoch; docs/literature.png shows their median over
the members against G updates, to show where they level off within the budget.

The paper trains 400 epochs (400,000 updates); on a 2-core CPU its networks run about 36 ensemble updates/s, so
this is a GPU job. `--updates` sets a smaller budget (a multiple of 1,000), stated beside the table.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = {"GAN": 1, "PacGAN2": 2, "PacGAN3": 3, "PacGAN4": 4}
# The paper's Table 1 (arXiv 1712.04086; the image synthetic_data_experiments/results/Table1.png in fjxmlzn/PacGAN):
# (modes, high-quality %, reverse KL), each (mean, standard error) over 10 runs. Transcribed by hand: check against
# the paper before quoting. ALI (Dumoulin et al., 2017), the paper's other baseline, has no curvegan run: its row
# shows the paper's numbers only.
PAPER = {
    "ring": {
        "GAN": ((6.3, 0.5), (98.2, 0.2), (0.45, 0.09)),
        "PacGAN2": ((7.9, 0.1), (95.6, 2.0), (0.07, 0.03)),
        "PacGAN3": ((7.8, 0.1), (97.7, 0.3), (0.10, 0.02)),
        "PacGAN4": ((7.8, 0.1), (95.9, 1.4), (0.07, 0.02)),
        "ALI": ((6.6, 0.3), (97.6, 0.4), (0.36, 0.04)),
    },
    "grid": {
        "GAN": ((17.3, 0.8), (94.8, 0.7), (0.70, 0.07)),
        "PacGAN2": ((23.8, 0.7), (91.3, 0.8), (0.13, 0.04)),
        "PacGAN3": ((24.6, 0.4), (94.2, 0.4), (0.06, 0.02)),
        "PacGAN4": ((24.8, 0.2), (93.6, 0.6), (0.04, 0.01)),
        "ALI": ((24.1, 0.4), (95.7, 0.6), (0.14, 0.03)),
    },
}
METRICS = ("pacgan_modes", "hq_fraction", "mode_kl")


def train(data: str, row: str, pack: int, args) -> Path:
    run_dir = args.work / data / row
    if (run_dir / "metrics.json").exists():
        return run_dir
    shutil.rmtree(run_dir, ignore_errors=True)
    command = [
        sys.executable,
        "-m",
        "curvegan.train",
        f"experiment=pacgan_{data}",
        f"model.pack={pack}",
        f"data.batch_size={100 * pack}",
        f"trainer={args.trainer}",
        f"trainer.max_epochs={args.updates // 1000}",
        f"ensemble.size={args.members}",
        "logger=csv",
        "callbacks.monitor.gif_path=null",
        f"hydra.run.dir={run_dir}",
        *args.overrides,
    ]
    print(f"  {data} {row}: {' '.join(command[3:])}", file=sys.stderr)
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"literature: {data} {row} failed:\n{result.stderr[-3000:]}")
    print(f"    {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return run_dir


def mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else math.nan
    return mean, math.sqrt(var / n)


def cell(values: list, scale: float = 1.0, digits: int = 1) -> str:
    """mean ± standard error of the defined values; how many were undefined (reverse KL with no high-quality
    sample), if any."""
    defined = [v for v in values if v is not None and math.isfinite(v)]
    if not defined:
        return "undefined"
    mean, se = mean_se(defined)
    text = f"{mean * scale:.{digits}f} ± {se * scale:.{digits}f}" if len(defined) > 1 else f"{mean * scale:.{digits}f}"
    return text + (f" ({len(values) - len(defined)} undefined)" if len(defined) < len(values) else "")


def paper_cell(mean_and_se: tuple[float, float], digits: int = 1) -> str:
    return f"{mean_and_se[0]:.{digits}f} ± {mean_and_se[1]:.{digits}f}"


def table(data: str, runs: dict[str, Path]) -> list[str]:
    lines = [
        "| | modes: ours | paper | high-quality %: ours | paper | reverse KL: ours | paper |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row, run_dir in runs.items():
        members = json.loads((run_dir / "metrics.json").read_text())["members"]
        ours = [[m[k] for m in members] for k in METRICS]
        paper = PAPER[data][row]
        lines.append(
            f"| {row} | {cell(ours[0])} | {paper_cell(paper[0])} | {cell(ours[1], scale=100)} |"
            f" {paper_cell(paper[1])} | {cell(ours[2], digits=2)} | {paper_cell(paper[2], digits=2)} |"
        )
    for row, paper in PAPER[data].items():
        if row not in runs and row not in ROWS:  # the paper's baselines curvegan does not train
            lines.append(
                f"| {row} (paper only) | – | {paper_cell(paper[0])} | – | {paper_cell(paper[1])} | – |"
                f" {paper_cell(paper[2], digits=2)} |"
            )
    return lines


def levelling(all_runs: dict[str, dict[str, Path]], path: Path) -> None:
    """Each metric's median over the members, every epoch, against G updates: one panel per data set and metric."""
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with mpl.rc_context({"font.size": 10}):
        fig = Figure(figsize=(8.3, 2.6 * len(all_runs)), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(len(all_runs), 3, squeeze=False)
        for (data, runs), row_axes in zip(all_runs.items(), axes, strict=True):
            for metric, ax in zip(METRICS, row_axes, strict=True):
                for row, run_dir in runs.items():
                    history = json.loads((run_dir / "metrics.json").read_text())["history"]
                    steps = [h["step"] for h in history]
                    medians = [h.get(metric) for h in history]  # metrics.json keeps the median of every epoch
                    ax.plot(steps, [math.nan if v is None else v for v in medians], label=row)
                ax.set_title(f"{data}: {metric}")
                ax.set_xlabel("G updates")
        axes[0][0].legend(fontsize=8)
        fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=400_000, help="G updates a run (a multiple of 1,000)")
    parser.add_argument("--data", default="ring,grid")
    parser.add_argument("--trainer", default="gpu", help="trainer config: gpu, or cpu to try it")
    parser.add_argument("--members", type=int, default=10, help="seeds a row (the paper: 10)")
    parser.add_argument("--work", type=Path, default=ROOT / "multirun" / "literature")
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("overrides", nargs="*", help="further overrides for every run")
    args = parser.parse_args()
    if args.updates < 1000 or args.updates % 1000:
        sys.exit(f"literature: --updates {args.updates}: must be a multiple of 1,000 (an epoch)")
    started = time.perf_counter()
    all_runs = {
        data: {row: train(data, row, pack, args) for row, pack in ROWS.items()} for data in args.data.split(",")
    }
    elapsed = time.perf_counter() - started
    first = next(iter(next(iter(all_runs.values())).values()))
    updates = json.loads((first / "metrics.json").read_text())["steps"]  # what ran, overrides included
    given = " ".join(sys.argv[1:])
    text = [
        "# PacGAN's Table 1, ours beside the paper's",
        "",
        f"Made by `python benchmarks/literature.py {given}` (`make literature`): {updates:,} G updates a run (the"
        f" paper: 400,000), {args.members} seeds a row"
        f" as one ensemble, {elapsed / 60:.0f} minutes in all. Mean ± standard error over the seeds; the paper's"
        " numbers are its Table 1 (10 runs), transcribed by hand.",
        "",
    ]
    for data, runs in all_runs.items():
        text += [f"## 2-D {data}", "", *table(data, runs), ""]
    levelling(all_runs, args.out / "literature.png")
    text += ["![The three metrics' median over the seeds against G updates](literature.png)", ""]
    (args.out / "literature.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
