"""Speed of curvegan's training path against the floor, a plain PyTorch loop of the same GAN.

    python benchmarks/speed.py [--accelerator cpu|gpu] [--pairs 3] [--updates 6000] [--baseline REV] [--ensemble 64]

Every row is a whole process (imports and start-up included), run interleaved with the others `--pairs`
times; the table shows medians. Rows:
- plain loop: benchmarks/plain_loop.py, torch's default threads (the seed's loop as written)
- plain loop, 1 thread: the same with torch.set_num_threads(1), which is what curvegan does by default
- lean loop, 1 thread: the second floor, the plain loop with Adam's fused kernel (as curvegan's)
- curvegan: `python -m curvegan.train` with the default config (TensorBoard, a figure and quality metrics
  per epoch, checkpoints, the GIF), for the same number of G updates
- curvegan, bare: the same with no logger and no callbacks
- curvegan, start-up: a bare run of one G update, so its wall time is the process's start (imports, Hydra,
  validation, Lightning's set-up) up to the first G update, plus that update and the exit
- with --ensemble K: the default run as an ensemble of K (its updates/s: steps of all K members at once)
- with --baseline REV: the default run and the start-up (and the ensemble) with the code of git revision REV
The ratio is wall time over the 1-thread plain loop's (the fair floor: same threads).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Report the child's own peak memory when it exits: max RSS, and the GPU's peak if CUDA was used.
PEAK = (
    "import atexit, json, resource, sys\n"
    "def _peak():\n"
    "    torch = sys.modules.get('torch')\n"
    "    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch and torch.cuda.is_initialized() else None\n"
    "    print('PEAK ' + json.dumps({'rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,"
    " 'gpu_mb': gpu}), file=sys.stderr)\n"
    "atexit.register(_peak)\n"
)


def run(argv: list[str], module: bool, env: dict | None = None) -> dict:
    """A whole process; `env` from baseline_env runs another revision's code with that revision's configs."""
    if env is not None and "CURVEGAN_CONFIGS" in env:
        argv = [argv[0], "--config-path", env["CURVEGAN_CONFIGS"], *argv[1:]]
    code = PEAK + (
        f"import runpy; sys.argv = {argv!r}; runpy.run_module({argv[0]!r}, run_name='__main__')"
        if module
        else f"import runpy; sys.argv = {argv!r}; runpy.run_path({argv[0]!r}, run_name='__main__')"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"benchmark: {' '.join(argv)} failed:\n{done.stderr[-3000:]}")
    peak = json.loads(next(line for line in done.stderr.splitlines() if line.startswith("PEAK "))[5:])
    return {"wall": wall, **peak, "stdout": done.stdout}


def baseline_env(rev: str, tmp: Path) -> dict:
    """The environment that runs the code and configs of git revision `rev` (checked out into a temporary
    worktree): its src/ first on the path, and its configs/ for `run`."""
    import atexit
    import os

    worktree = tmp / f"baseline-{rev}"
    root = HERE.parent
    atexit.register(remove_baseline, rev, tmp)  # also when a run fails and the benchmark exits early
    subprocess.run(
        ["git", "-C", str(root), "worktree", "add", "--detach", str(worktree), rev], check=True, capture_output=True
    )
    return {**os.environ, "PYTHONPATH": str(worktree / "src"), "CURVEGAN_CONFIGS": str(worktree / "configs")}


def remove_baseline(rev: str, tmp: Path) -> None:
    subprocess.run(
        ["git", "-C", str(HERE.parent), "worktree", "remove", "--force", str(tmp / f"baseline-{rev}")],
        capture_output=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accelerator", choices=["cpu", "gpu"], default="cpu")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved repetitions (medians are shown)")
    parser.add_argument("--updates", type=int, default=6000, help="G updates; a multiple of 300 (one epoch)")
    parser.add_argument("--baseline", help="a git revision whose default run and start-up to time as well")
    parser.add_argument("--ensemble", type=int, help="also the default run as an ensemble of this many")
    args = parser.parse_args()
    epochs = max(1, args.updates // 300)
    updates = epochs * 300

    tmp = Path(tempfile.mkdtemp(prefix="curvegan-bench-"))
    plain = [str(HERE / "plain_loop.py"), "--updates", str(updates), "--accelerator", args.accelerator]
    train = ["curvegan.train", f"trainer.accelerator={args.accelerator}", f"trainer.max_epochs={epochs}"]
    bare = ["logger=none", "~callbacks", "trainer.enable_checkpointing=false", "trainer.enable_progress_bar=false"]
    one_update = ["trainer.max_epochs=1", "data.batches_per_epoch=1", "data.batches_per_step=1"]
    start_up = train + bare + one_update + ["evaluation.num_samples=2", "evaluation.generic=false"]
    rows = {
        "plain loop": (plain + ["--threads", "0"], False),
        "plain loop, 1 thread": (plain + ["--threads", "1"], False),
        "lean loop, 1 thread": (plain + ["--threads", "1", "--lean"], False),
        "curvegan": (train, True),
        "curvegan, bare": (train + bare, True),
        "curvegan, start-up (one G update)": (start_up, True),
    }
    ensemble = train + [f"ensemble.size={args.ensemble}"]
    if args.ensemble:
        rows[f"curvegan, ensemble.size={args.ensemble}"] = (ensemble, True)
    env = baseline_env(args.baseline, tmp) if args.baseline else None
    if env is not None:
        rows[f"curvegan at {args.baseline}"] = (train, True)
        rows[f"start-up at {args.baseline}"] = (start_up, True)  # the same overrides (evaluation.generic: 8c118ad on)
        if args.ensemble:
            rows[f"ensemble.size={args.ensemble} at {args.baseline}"] = (ensemble, True)
    results: dict[str, list[dict]] = {name: [] for name in rows}
    for i in range(args.pairs):
        for name, (argv, module) in rows.items():
            if module:
                run_dir = tmp / f"{''.join(c if c.isalnum() else '-' for c in name)}-{i}"  # a name Hydra parses
                argv = argv + [f"hydra.run.dir={run_dir}"]
            result = run(argv, module, env if name.endswith(f"at {args.baseline}") else None)
            if module:
                metrics = json.loads((run_dir / "metrics.json").read_text())
                result["train_s"], result["updates"] = metrics["seconds"], metrics["steps"]
            else:
                result["train_s"] = json.loads(result["stdout"].strip().splitlines()[-1])["seconds"]
                result["updates"] = updates
            results[name].append(result)
            print(f"  pair {i + 1}/{args.pairs} {name}: {result['wall']:.1f} s", file=sys.stderr)

    floor = statistics.median(r["wall"] for r in results["plain loop, 1 thread"])
    print(f"\n{updates} G updates, batch 32, accelerator={args.accelerator}, median of {args.pairs} interleaved runs")
    cpu = platform.processor() or platform.machine()
    print(f"machine: {platform.node()} · {cpu} · python {platform.python_version()}")
    print("\n| path | updates/s (training) | wall s (whole process) | peak RSS MB | peak GPU MB | wall / floor |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, rs in results.items():
        wall = statistics.median(r["wall"] for r in rs)
        rate = statistics.median(r["updates"] for r in rs) / statistics.median(r["train_s"] for r in rs)
        rss = statistics.median(r["rss_mb"] for r in rs)
        gpu = rs[0]["gpu_mb"]
        gpu_text = f"{gpu:.0f}" if gpu is not None else "–"
        rate_text = "–" if "start-up" in name else f"{rate:.0f}"  # one update: its rate means nothing
        print(f"| {name} | {rate_text} | {wall:.1f} | {rss:.0f} | {gpu_text} | {wall / floor:.2f} |")


if __name__ == "__main__":
    main()
