"""Sweeps: a search of learning rates and betas over seeds, on Hydra's joblib launcher against `hydra/launcher=packed`.

    python benchmarks/sweeps.py [--searches 32x8,128x4] [--pairs 1] [--epochs 20]

A search `SxK` is S settings (G's and D's learning rates and β1, a grid) × K seeds, each setting one job of
`ensemble.size=K`, as `make compare` runs its objectives. Every row is the whole sweep as one command
(`python -m curvegan.train -m ...`: every process's start-up included), without a logger or GIF (as a search
runs), for `--epochs` epochs of 300 G updates:

- joblib: two jobs at a time, each a process of one thread (the fastest way to run small jobs on two cores,
  benchmarks/ensemble.py);
- packed: the same command with `hydra/launcher=packed` (every job of a search differs only in member-wise
  keys, so the whole search is one group of S × K GANs, which `hydra.launcher.processes=auto` halves and trains as
  two groups side by side on two cores, one thread each);
- packed-1 (`--launchers joblib,packed,packed-1`): the same with `hydra.launcher.processes=1`, the whole search
  one ensemble in one process on every core (cpu_threads=auto).

Rows are interleaved over `--pairs` repetitions; the table shows medians.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

G_LR = ["5e-5", "1e-4", "2e-4", "4e-4", "8e-4", "1.6e-3", "3.2e-3", "6.4e-3"]
BETAS = ["[0.5,0.999]", "[0.0,0.999]"]


def search(settings: int) -> list[str]:
    """A grid of `settings` settings: G's learning rate × D's × β1 (as few of each as make the number)."""
    for n in range(1, len(G_LR) + 1):
        if n * n * 2 == settings:
            lrs = ",".join(G_LR[:n])
            return [f"model.g_lr={lrs}", f"model.d_lr={lrs}", f"model.betas={','.join(BETAS)}"]
    raise SystemExit(f"--searches: {settings} settings is not 2·n² for n ≤ {len(G_LR)} (8, 32, 128 are)")


def sweep(launcher: str, settings: int, seeds: int, epochs: int, out: Path) -> float:
    argv = [sys.executable, "-m", "curvegan.train", "-m", *search(settings), f"ensemble.size={seeds}"]
    argv += [f"trainer.max_epochs={epochs}", "logger=none", "callbacks.monitor.gif_path=null", f"hydra.sweep.dir={out}"]
    argv += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "cpu_threads=1"] if launcher == "joblib" else []
    argv += ["hydra/launcher=packed"] if launcher.startswith("packed") else []
    argv += ["hydra.launcher.processes=1"] if launcher == "packed-1" else []
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    finished = len(list(out.glob("*/metrics.json")))
    if result.returncode != 0 or finished != settings:
        raise SystemExit(f"{launcher} {settings}x{seeds}: {finished} of {settings} jobs\n{result.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--searches", default="32x8,128x4", help="SETTINGSxSEEDS, comma-separated")
    parser.add_argument("--pairs", type=int, default=1, help="interleaved repetitions (medians are shown)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs of 300 G updates per job")
    parser.add_argument("--launchers", default="joblib,packed")
    args = parser.parse_args()
    searches = [tuple(int(n) for n in s.split("x")) for s in args.searches.split(",")]
    launchers = args.launchers.split(",")
    times: dict[tuple, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pair, (settings, seeds), launcher in itertools.product(range(args.pairs), searches, launchers):
            out = Path(tmp) / f"{launcher}-{settings}x{seeds}-{pair}"
            seconds = sweep(launcher, settings, seeds, args.epochs, out)
            times.setdefault((settings, seeds, launcher), []).append(seconds)
            print(f"  {launcher} {settings}x{seeds}: {seconds:.1f} s", file=sys.stderr, flush=True)
    columns = [k for k in ("joblib", "packed-1", "packed") if k in launchers]
    heads = {"joblib": "joblib (2 jobs at a time), s", "packed-1": "packed, processes=1, s", "packed": "packed, s"}
    print(f"| search | GANs | {' | '.join(heads[k] for k in columns)} | packed is × faster |  ({args.epochs} epochs)")
    print("| --- | --- |" + " --- |" * (len(columns) + 1))
    for settings, seeds in searches:
        row = {launcher: statistics.median(times[(settings, seeds, launcher)]) for launcher in launchers}
        joblib, packed = row.get("joblib"), row.get("packed")
        ratio = f"{joblib / packed:.1f}" if joblib and packed else "–"
        shown = " | ".join(f"{row[k]:.1f}" for k in columns)
        print(f"| {settings} settings × {seeds} seeds | {settings * seeds} | {shown} | {ratio} |")


if __name__ == "__main__":
    main()
