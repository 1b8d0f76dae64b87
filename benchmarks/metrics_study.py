"""The generic GAN metrics against the truth: which of them agree with the exact metrics they stand for, where they
mislead, and how many samples they need. `make metrics` runs it and writes docs/metrics.md and docs/metrics.png.

    python benchmarks/metrics_study.py [--out docs] [--work multirun/metrics] [--quick]

1. Trains a grid of ensembles that spans good, collapsed and noisy GANs (every objective with the seed's settings,
   a short run, experiment=best; the mode test bed with and without packing, and experiment=modes_best), each
   member scored by its family's exact metrics and by the generic ones (evaluation.generic) on the same samples.
2. Over the members, the Spearman rank correlation of each generic metric with the exact metrics it claims to stand
   for, signed so that +1 means "agrees" (a better generic value goes with a better exact one); a scatter per pair.
3. For three members (the best, the median and the worst of experiment=best's and of the default's), the spread
   (standard deviation over 5 evaluation seeds, the real reference drawn anew each time) of every generic metric at
   1,000, 2,000, 5,000 and 10,000 samples.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
QUIET = ["logger=none", "callbacks.monitor.gif_path=null", "evaluation.reference_samples=2000"]
GRID = {  # name: overrides (each one ensemble)
    "bce": ["objective=bce", "ensemble.size=8"],
    "minimax": ["objective=minimax", "ensemble.size=8"],
    "lsgan": ["objective=lsgan", "ensemble.size=8"],
    "hinge": ["objective=hinge", "ensemble.size=8"],
    "wgan_gp": ["objective=wgan_gp", "ensemble.size=8"],
    "bce, 2 epochs": ["trainer.max_epochs=2", "ensemble.size=8"],
    "best": ["experiment=best", "ensemble.size=16"],
    "modes, pack 1": ["data=modes", "ensemble.size=8"],
    "modes, pack 4": ["data=modes", "model.pack=4", "ensemble.size=8"],
    "modes_best": ["experiment=modes_best", "ensemble.size=8"],
}
GENERIC = ("frechet", "precision", "recall", "density", "coverage")
# (generic, exact, +1 where both are better the same way, -1 where one is better lower and the other higher)
PAIRS = {
    "curves": [
        ("precision", "shape_rmse", -1),
        ("density", "shape_rmse", -1),
        ("recall", "a_w1", -1),
        ("recall", "a_std", +1),
        ("coverage", "a_w1", -1),
        ("coverage", "a_std", +1),
        ("frechet", "objective", +1),
    ],
    "modes": [
        ("precision", "hq_fraction", +1),
        ("density", "hq_fraction", +1),
        ("recall", "modes_captured", +1),
        ("coverage", "modes_captured", +1),
        ("frechet", "objective", +1),
    ],
}
SIZES = (1000, 2000, 5000, 10000)
SEEDS = 5


def train(name: str, overrides: list[str], work: Path) -> Path:
    run_dir = work / "".join(c if c.isalnum() else "-" for c in name)
    if not (run_dir / "metrics.json").exists():
        shutil.rmtree(run_dir, ignore_errors=True)  # what an interrupted attempt left: curvegan would refuse it
        command = [sys.executable, "-m", "curvegan.train", *overrides, *QUIET, f"hydra.run.dir={run_dir}"]
        print(f"  training {name}: {' '.join(overrides)}", file=sys.stderr)
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"metrics_study: training {name} failed:\n{result.stderr[-2000:]}")
    return run_dir


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    rank = lambda v: np.argsort(np.argsort(v)).astype(float)  # noqa: E731
    rx, ry = rank(x), rank(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def members(runs: dict[str, Path]) -> dict[str, list[dict]]:
    """Every member of every run, by data family (curves or modes), with its run's name."""
    found: dict[str, list[dict]] = {"curves": [], "modes": []}
    for name, run_dir in runs.items():
        metrics = json.loads((run_dir / "metrics.json").read_text())
        family = "modes" if "hq_fraction" in metrics["declarations"] else "curves"
        for m in metrics["members"]:
            if not m["diverged"]:
                found[family].append({"run": name, **m})
    return found


def correlations(found: dict[str, list[dict]]) -> list[tuple]:
    rows = []
    for family, pairs in PAIRS.items():
        for generic, exact, sign in pairs:
            kept = [m for m in found[family] if m.get(generic) is not None and m.get(exact) is not None]
            x = np.array([m[generic] for m in kept])
            y = np.array([m[exact] for m in kept])
            rows.append((family, generic, exact, sign * spearman(x, y), len(kept)))
    return rows


# The panels of docs/metrics.png (the table has every pair): each generic metric once per family, against the exact
# one it claims to stand for; eight panels, two a row, readable in the README's column.
SHOWN = [
    ("curves", "frechet", "objective"),
    ("modes", "frechet", "objective"),
    ("curves", "precision", "shape_rmse"),
    ("modes", "precision", "hq_fraction"),
    ("curves", "recall", "a_w1"),
    ("modes", "recall", "modes_captured"),
    ("curves", "coverage", "a_std"),
    ("modes", "coverage", "modes_captured"),
]


def log_ticks(axis) -> None:
    """1, 2 and 5 of each decade, labelled as plain numbers: a range narrower than a decade still has labels."""
    import matplotlib as mpl

    axis.set_major_locator(mpl.ticker.LogLocator(subs=(1, 2, 5), numticks=12))
    axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mpl.ticker.NullFormatter())


def scatter(found: dict[str, list[dict]], table: list[tuple], path: Path) -> None:
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    agreement = {(family, generic, exact): r for family, generic, exact, r, _ in table}
    cols, rows = 2, -(-len(SHOWN) // 2)
    with mpl.rc_context({"font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11}):
        fig = Figure(figsize=(8.3, 2.55 * rows + 1.0), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(rows, cols, squeeze=False).flat
        runs = sorted({m["run"] for ms in found.values() for m in ms})
        colors = {r: mpl.colormaps["tab10"](i % 10) for i, r in enumerate(runs)}
        for ax, (family, generic, exact) in zip(axes, SHOWN, strict=False):
            for m in found[family]:
                if m.get(generic) is not None and m.get(exact) is not None:
                    ax.scatter(m[exact], m[generic], s=14, color=colors[m["run"]], alpha=0.7, lw=0)
            ax.set_xlabel(exact, labelpad=1)
            ax.set_ylabel(generic, labelpad=1)
            ax.set_title(f"{family}: {generic} vs {exact}\nagreement {agreement[(family, generic, exact)]:+.2f}")
            if exact in ("shape_rmse", "a_w1", "objective"):
                ax.set_xscale("log")
                log_ticks(ax.xaxis)
            if generic == "frechet":
                ax.set_yscale("log")
                log_ticks(ax.yaxis)
        handles = [mpl.lines.Line2D([], [], marker="o", ls="", color=colors[r], label=r) for r in runs]
        fig.legend(handles=handles, loc="outside lower center", ncols=5, frameon=False)
        fig.suptitle("Each generic metric against the exact one it stands for: every member a dot, by run")
        fig.savefig(path)


def spread(run_dir: Path, member: int, sizes=SIZES) -> dict[int, dict[str, tuple[float, float]]]:
    """{size: {metric: (mean, std over SEEDS evaluation seeds)}} for one member (the reference drawn anew too)."""
    from curvegan.generic import Reference
    from curvegan.sample import load_checkpoint
    from curvegan.sampling import evaluation_inputs

    gan = load_checkpoint(run_dir / "checkpoints" / "last.ckpt", member)
    out = {}
    for n in sizes:
        values = {name: [] for name in GENERIC}
        for seed in range(SEEDS):
            reference = Reference.of(gan.family, n, 10_000 + seed, 5, gan.device)
            samples = gan.generate(evaluation_inputs(gan, n, 20_000 + seed)[0])
            for name, value in reference.quality(samples).items():
                values[name].append(value.item())
        out[n] = {name: (float(np.mean(v)), float(np.std(v))) for name, v in values.items()}
    return out


def markdown(rows: list[list], header: list[str]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--work", type=Path, default=ROOT / "multirun" / "metrics")
    parser.add_argument("--quick", action="store_true", help="2 epochs and 3 runs: to try the script, not to read")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.perf_counter()
    grid = GRID
    if args.quick:
        grid = {k: [*v, "trainer.max_epochs=2"] for k, v in list(GRID.items())[:2] + list(GRID.items())[7:8]}
    runs = {name: train(name, overrides, args.work) for name, overrides in grid.items()}
    trained = time.perf_counter() - started
    found = members(runs)
    table = correlations(found)
    scatter(found, table, args.out / "metrics.png")
    studied = {}
    cache = args.work / "spread.json"  # the spreads take most of the time: kept beside the runs
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    for name in ("best", "bce"):
        if name in runs:
            metrics = json.loads((runs[name] / "metrics.json").read_text())
            ranked = sorted((m for m in metrics["members"] if not m["diverged"]), key=lambda m: m["objective"])
            for which, m in (("best", ranked[0]), ("median", ranked[len(ranked) // 2]), ("worst", ranked[-1])):
                label = f"{name}: {which} member (#{m['member']})"
                if label not in cached:
                    cached[label] = {str(n): v for n, v in spread(runs[name], m["member"]).items()}
                    cache.write_text(json.dumps(cached))
                studied[label] = {int(n): v for n, v in cached[label].items()}
    total = time.perf_counter() - started

    corr = [[family, generic, exact, f"{r:+.2f}", n] for family, generic, exact, r, n in table]
    size_rows = []
    for label, by_size in studied.items():
        for name in GENERIC:
            cells = [f"{by_size[n][name][0]:.3g} ± {by_size[n][name][1]:.2g}" for n in SIZES if n in by_size]
            size_rows.append([label, name, *cells])
    text = [
        "# Generic metrics against the truth",
        "",
        f"Made by `make metrics` (`python benchmarks/metrics_study.py`): {len(runs)} ensembles,"
        f" {sum(len(v) for v in found.values())} members, {trained:.0f} s of training and {total:.0f} s in all on"
        " the 2-core machine the README's numbers come from.",
        "",
        "## Do they agree with the exact metrics?",
        "",
        "Spearman's rank correlation over the members, signed so that +1 means the generic metric ranks members as"
        " the exact one does (better with better) and −1 the reverse. Generic metrics on 2,000 samples against"
        " 2,000 real ones (k = 5).",
        "",
        markdown(corr, ["data", "generic", "exact", "agreement", "members"]),
        "",
        "![Each generic metric against the exact one it stands for, every member a dot](metrics.png)",
        "",
        "## How many samples do they need?",
        "",
        "Mean ± standard deviation over 5 evaluation seeds (generated samples and the real reference both drawn"
        " anew), for samples of each size.",
        "",
        markdown(size_rows, ["member", "metric", *[f"{n:,}" for n in SIZES]]),
        "",
    ]
    (args.out / "metrics_numbers.md").write_text("\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    main()
