"""Ensembles: what K GANs at once cost, against one run and against K separate runs.

    python benchmarks/ensemble.py [--sizes 1,8,64,256,1024] [--pairs 3] [--epochs 20] [--baseline REV]
                                  [--accelerator cpu|gpu] [--bare] [--joblib 8] [--samples 10000]

Every row is a whole process (`python -m curvegan.train`, imports and start-up included); the table shows
medians over `--pairs` runs, interleaved so that a noisy machine spreads its noise over every row.

- sizes: `ensemble.size=K` with full logging (TensorBoard, figures, metrics, checkpoints, the GIF; `--bare`:
  no logger and no callbacks), for `--epochs` epochs of 300 G updates. G updates/s sums over the members and
  counts training time only (metrics.json's `seconds`); wall time is the whole process; peak RSS is the
  process's own, peak GPU memory torch's.
- `--baseline REV`: also the default run of the code at git revision REV (checked out into a temporary
  worktree), interleaved with `ensemble.size=1`: the cost of the ensemble code path for a single run.
- `--joblib N`: N seeds of the default run as N separate processes on Hydra's joblib launcher (one job per
  core), the way seeds were run before ensembles; its time is scaled to each size of at least N (× K/N).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import baseline_env, run  # noqa: E402  (a whole process, with its peak memory)


def training(k: int, epochs: int, args, run_dir: Path, env: dict | None = None) -> dict:
    argv = ["curvegan.train", f"ensemble.size={k}", f"trainer.max_epochs={epochs}", f"hydra.run.dir={run_dir}"]
    argv += [f"trainer.accelerator={args.accelerator}", f"evaluation.num_samples={args.samples}"]
    if args.bare:
        argv += ["logger=none", "~callbacks", "trainer.enable_checkpointing=false", "trainer.enable_progress_bar=false"]
    result = run(argv, module=True, env=env)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {**result, "train_s": metrics["seconds"], "updates": metrics["steps"] * metrics.get("ensemble_size", 1)}


def joblib_seeds(n: int, epochs: int, args, sweep_dir: Path) -> float:
    argv = ["curvegan.train", "-m", "hydra/launcher=joblib", f"seed={','.join(map(str, range(n)))}"]
    argv += [f"trainer.max_epochs={epochs}", f"hydra.sweep.dir={sweep_dir}", "cpu_threads=1"]
    start = time.perf_counter()
    run(argv, module=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,8,64,256,1024", help="ensemble sizes, comma-separated")
    parser.add_argument("--pairs", type=int, default=1, help="interleaved repetitions (medians are shown)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of 300 G updates per run")
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--bare", action="store_true", help="no logger, no callbacks: training alone")
    parser.add_argument("--samples", type=int, default=10000, help="evaluation.num_samples")
    parser.add_argument("--baseline", help="a git revision whose default run to compare ensemble.size=1 with")
    parser.add_argument("--joblib", type=int, default=0, help="also time N seeds as separate joblib jobs")
    args = parser.parse_args()
    sizes = [int(k) for k in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="curvegan-ensemble-bench-"))
    env = baseline_env(args.baseline, tmp) if args.baseline else None

    results: dict[str, list[dict]] = {}
    for i in range(args.pairs):
        for k in sizes:
            result = training(k, args.epochs, args, tmp / f"k{k}-{i}")
            results.setdefault(f"ensemble.size={k}", []).append(result)
            print(f"  {i + 1}/{args.pairs} K={k}: {result['wall']:.1f} s", file=sys.stderr)
            if k == 1 and env is not None:
                # the baseline is the old default run; it has no ensemble.size key
                argv = ["curvegan.train", f"trainer.max_epochs={args.epochs}", f"hydra.run.dir={tmp}/base-{i}"]
                if args.bare:
                    argv += [
                        "logger=none",
                        "~callbacks",
                        "trainer.enable_checkpointing=false",
                        "trainer.enable_progress_bar=false",
                    ]
                base = run(argv, module=True, env=env)
                metrics = json.loads((tmp / f"base-{i}" / "metrics.json").read_text())
                base |= {"train_s": metrics["seconds"], "updates": metrics["steps"]}
                results.setdefault(f"default run at {args.baseline}", []).append(base)
                print(f"  {i + 1}/{args.pairs} baseline: {base['wall']:.1f} s", file=sys.stderr)

    def median(rows, key):
        return statistics.median(r[key] for r in rows)

    one = median(results["ensemble.size=1"], "wall")
    what = "bare (no logger, no callbacks)" if args.bare else "full logging (TensorBoard, figures, checkpoints, GIF)"
    print(f"\n{args.epochs * 300} G updates per member, {what}, accelerator={args.accelerator}, median of {args.pairs}")
    print(
        "\n| run | G updates/s (all members) | steps/s | train s | wall s | wall / one run | peak RSS MB |"
        " peak GPU MB |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, rows in results.items():
        k = int(name.split("=")[1]) if name.startswith("ensemble.size=") else 1
        rate = median(rows, "updates") / median(rows, "train_s")
        gpu = rows[0]["gpu_mb"]
        print(
            f"| {name} | {rate:,.0f} | {rate / k:,.0f} | {median(rows, 'train_s'):.1f} | {median(rows, 'wall'):.1f}"
            f" | {median(rows, 'wall') / one:.2f} | {median(rows, 'rss_mb'):,.0f} | "
            f"{'–' if gpu is None else f'{gpu:,.0f}'} |"
        )
    if args.joblib:
        seconds = joblib_seeds(args.joblib, args.epochs, args, tmp / "joblib")
        print(f"\njoblib launcher, {args.joblib} seeds as separate processes (one job per core): {seconds:.1f} s")
        for k in [k for k in sizes if k >= args.joblib]:
            scaled = seconds * k / args.joblib
            ensemble = median(results[f"ensemble.size={k}"], "wall")
            print(
                f"- {k} seeds: {scaled:.0f} s scaled from those {args.joblib}, against ensemble.size={k}'s"
                f" {ensemble:.1f} s: {scaled / ensemble:.1f}× as long"
            )


if __name__ == "__main__":
    main()
