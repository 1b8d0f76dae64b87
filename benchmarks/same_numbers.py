"""The numbers do not move: metrics.json and samples.npy of a set of runs, here against a git revision.

    python benchmarks/same_numbers.py --baseline REV [--only NAME,...] [--tolerance 1e-6]

Each run is a whole `python -m curvegan.train` process with the same seed, once with the code of git revision
REV (checked out into a temporary worktree) and once with this working tree. Every number in metrics.json
that both runs wrote (the training time `seconds` aside; keys only one of them has are listed) and every
value of samples.npy (as [members, n, dim]) is compared; the table gives the largest difference per run, and
the script exits 1 if one is above the tolerance. Baseline results are kept in ~/.cache/curvegan-same-numbers/.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
QUIET = ["logger=none"]
SHORT = ["trainer.max_epochs=4", *QUIET]
# name: overrides valid at both revisions. Full length where a run is quick, otherwise a few epochs.
RUNS = {
    "default": [],
    "experiment=best": QUIET,
    "model=cgan": SHORT + ["model=cgan"],
    "model=infogan": SHORT + ["model=infogan"],
    "experiment=modes_best": SHORT + ["experiment=modes_best", "ensemble.size=4"],
    "ensemble.size=3 objective=wgan_gp": SHORT + ["ensemble.size=3", "objective=wgan_gp"],
    "data=modes model.pack=4": SHORT + ["data=modes", "model.pack=4", "ensemble.size=2"],
    "data=ring model.g_ema=0.99": SHORT + ["data=ring", "model.g_ema=0.99", "ensemble.size=2"],
    "data=grid objective=hinge": SHORT + ["data=grid", "objective=hinge", "model.lr_decay=true"],
}


def train(overrides: list[str], run_dir: Path, worktree: Path | None) -> None:
    """A whole training process: this working tree's, or (with `worktree`) that revision's code and configs."""
    command = [sys.executable, "-m", "curvegan.train", *overrides, f"hydra.run.dir={run_dir}"]
    env = None
    if worktree is not None:
        command[3:3] = ["--config-path", str(worktree / "configs")]
        env = {**os.environ, "PYTHONPATH": str(worktree / "src")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"same_numbers: {' '.join(overrides) or 'the default run'} failed:\n{done.stderr[-3000:]}")


def numbers(value, prefix: str = "") -> dict[str, float | None]:
    """Every number (or null) of a JSON value, by its dotted path."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in numbers(item, f"{prefix}{key}.").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in numbers(item, f"{prefix}{i}.").items()}
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return {prefix.rstrip("."): value}
    return {}


def compare(old: Path, new: Path) -> tuple[int, float, list[str], float]:
    """(numbers compared, largest difference, keys only one run has, largest difference in samples.npy)."""
    a, b = (numbers(json.loads((d / "metrics.json").read_text())) for d in (old, new))
    common = [k for k in a if k in b and k.split(".")[-1] != "seconds"]
    largest = 0.0
    for key in common:
        x, y = a[key], b[key]
        if (x is None) != (y is None):
            largest = math.inf
        elif x is not None:
            largest = max(largest, abs(x - y))
    only = sorted(set(a) ^ set(b))
    samples = [np.load(d / "samples.npy") for d in (old, new)]
    samples = [s.reshape(-1, *s.shape[-2:]) for s in samples]  # [n, dim] was one member's
    sample_diff = math.inf if samples[0].shape != samples[1].shape else float(np.abs(samples[0] - samples[1]).max())
    return len(common), largest, only, sample_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", required=True, help="the git revision to compare with")
    parser.add_argument("--only", help="comma-separated names of runs (default: all)")
    parser.add_argument("--tolerance", type=float, default=1e-6)
    args = parser.parse_args()
    rev = subprocess.check_output(["git", "-C", str(HERE.parent), "rev-parse", args.baseline], text=True).strip()
    names = args.only.split(",") if args.only else list(RUNS)
    cache = Path.home() / ".cache" / "curvegan-same-numbers" / rev
    tmp = Path(tempfile.mkdtemp(prefix="curvegan-same-numbers-"))
    worktree = tmp / "baseline"
    try:
        for name in names:
            slug = "".join(c if c.isalnum() else "-" for c in name)
            if not (cache / slug / "metrics.json").exists():
                if not worktree.exists():
                    subprocess.run(
                        ["git", "-C", str(HERE.parent), "worktree", "add", "--detach", str(worktree), rev],
                        check=True,
                        capture_output=True,
                    )
                print(f"  {name}: at {rev[:7]}", file=sys.stderr)
                train(RUNS[name], tmp / "old" / slug, worktree)
                (cache / slug).mkdir(parents=True, exist_ok=True)
                for file in ("metrics.json", "samples.npy"):
                    shutil.copy(tmp / "old" / slug / file, cache / slug / file)
            print(f"  {name}: this working tree", file=sys.stderr)
            train(RUNS[name], tmp / "new" / slug, None)
    finally:
        if worktree.exists():
            subprocess.run(["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(worktree)])
    print(f"\nmetrics.json and samples.npy against {rev[:7]} (tolerance {args.tolerance:g})\n")
    print("| run | numbers compared | largest difference | samples.npy largest difference | keys in one run only |")
    print("| --- | --- | --- | --- | --- |")
    failed = False
    for name in names:
        slug = "".join(c if c.isalnum() else "-" for c in name)
        count, largest, only, sample_diff = compare(cache / slug, tmp / "new" / slug)
        failed |= not (largest <= args.tolerance and sample_diff <= args.tolerance)
        shown = ", ".join(only[:6]) + (f" … ({len(only)})" if len(only) > 6 else "")
        print(f"| {name} | {count} | {largest:.1e} | {sample_diff:.1e} | {shown or '–'} |")
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
