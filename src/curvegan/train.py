"""Train a CurveGAN from the composed Hydra config: `python -m curvegan.train [overrides]`.

`train(cfg)` does the work and returns the final metrics; `main` is the thin Hydra entry around it and returns
one number for sweepers (lower is better). Heavy imports happen inside `train`, so `--help` stays quick.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException, HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from curvegan import import_lightning
from curvegan.config import ConfigError, register_schemas, resolve_ckpt_path, validate

register_schemas()


class TrainingFailed(CompactHydraException):
    """The run could not finish (it diverged); Hydra prints the one-line message and exits non-zero."""


def objective_value(metrics: dict) -> float:
    """What sweeps minimise: shape error plus coverage error (both in units of y, or a), the median over the
    ensemble's members, so one run judges a setting over all its seeds."""
    return metrics["objective"]


def _quiet_lightning() -> None:
    """Let Hydra's logging print Lightning's messages once (Lightning adds a console handler of its own)."""
    logging.getLogger("lightning").handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")


def strict_json(value):
    """value with every non-finite float (NaN, ±inf) as None: JSON has no such numbers, so null means
    "not defined" (mode_kl with no high-quality curve) or "not finite"."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_atomically(path: Path, write) -> None:
    """write(temporary path), then rename it to path: a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    write(partial)
    os.replace(partial, path)


def final_evaluation(model, datamodule, evaluation, samples_path: Path | None) -> dict:
    """Every member's quality on evaluation.num_samples curves from fixed noise, and (if samples_path) those
    curves as samples.npy: [n, points] for one member, [members, n, points] for more."""
    import numpy as np

    from curvegan.metrics import COLLAPSED_BELOW, summarize

    members, n, points = model.members, evaluation.num_samples, datamodule.hparams.num_points
    args = (n, evaluation.seed, datamodule.family, datamodule.x)
    if samples_path is None:
        per_member = model.evaluate(*args)
    else:
        # Written a run of members at a time (in member order), so they never all sit in memory at once.
        partial = samples_path.with_name(samples_path.name + ".partial")
        with open(partial, "wb") as out:
            shape = (n, points) if members == 1 else (members, n, points)
            np.lib.format.write_array_header_1_0(out, {"descr": "<f4", "fortran_order": False, "shape": shape})
            per_member = model.evaluate(*args, each=lambda curves: out.write(curves.numpy().astype("<f4").tobytes()))
        os.replace(partial, samples_path)
    diverged = (model.diverged_at >= 0).cpu()
    collapsed = per_member["a_std"] < COLLAPSED_BELOW * datamodule.family.std
    rows = []
    for k in range(members):
        row = {"member": k, **{name: values[k].item() for name, values in per_member.items()}}
        row |= {"collapsed": bool(collapsed[k]), "diverged": bool(diverged[k])}
        if diverged[k]:
            row["diverged_at"] = int(model.diverged_at[k])
        rows.append(row)
    counts = {"diverged": int(diverged.sum()), "collapsed": int((collapsed & ~diverged).sum())}
    return {**summarize(per_member, ~diverged), "members": rows, **counts}


def train(cfg: DictConfig) -> dict:
    """Fit the GANs described by `cfg`, write metrics.json and samples.npy into cfg.run_dir, return the metrics.

    Raises ConfigError, before anything is written, if a value cannot work.
    """
    validate(cfg)
    OmegaConf.resolve(cfg)  # fixes the run dir, `${now:...}` and every interpolation for the whole run
    import_lightning()
    import lightning as L
    import torch
    from hydra.utils import instantiate

    from curvegan.callbacks import CurveMonitor, Interrupted
    from curvegan.gan import Diverged

    _quiet_lightning()
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Only a finished run has these: a resumed run must not look finished before it is.
    for stale in ("metrics.json", "samples.npy"):
        (run_dir / stale).unlink(missing_ok=True)
    threads = cfg.cpu_threads
    if threads == "auto":
        # Measured on 2 cores (benchmarks/ensemble.py): one thread is fastest for small ensembles, whose
        # matrices are too small to split; from about 64 members, every core.
        threads = 1 if cfg.ensemble.size < 64 else None
    if threads:
        torch.set_num_threads(threads)
    L.seed_everything(cfg.seed, verbose=False)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, _convert_="all")
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg is not None]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    last = run_dir / "checkpoints" / "last.ckpt"
    start = time.perf_counter()
    try:
        trainer.fit(model, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg))
    except Interrupted as stop:
        print(f"curvegan: {stop}; resume with hydra.run.dir={run_dir} ckpt_path=last", file=sys.stderr)
        sys.exit(128 + stop.signum)
    except Diverged as err:
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written before it"
        raise TrainingFailed(f"{err}; {kept}") from None
    seconds = time.perf_counter() - start

    samples_path = run_dir / "samples.npy" if trainer.is_global_zero else None
    model.to(trainer.strategy.root_device)  # Lightning hands the model back on the CPU; measure where it trained
    metrics = final_evaluation(model, datamodule, cfg.evaluation, samples_path)
    metrics |= {"ensemble_size": model.members, "steps": model.g_updates, "seconds": round(seconds, 3)}
    monitor = next((c for c in callbacks if isinstance(c, CurveMonitor)), None)
    if trainer.is_global_zero:
        metrics["history"] = monitor.history if monitor else []
        text = json.dumps(strict_json(metrics), indent=2, allow_nan=False) + "\n"
        write_atomically(run_dir / "metrics.json", lambda path: path.write_text(text))
        print(summary_line(metrics, seconds) + f"\nrun dir: {run_dir}")
    return metrics


def summary_line(metrics: dict, seconds: float) -> str:
    """What a finished run prints: its size, time and quality (an ensemble's medians and worst)."""
    k = metrics["ensemble_size"]
    if k == 1:
        return (
            f"curvegan: {metrics['steps']} G updates in {seconds:.1f} s · shape_rmse {metrics['shape_rmse']:.4f}"
            f" · a_w1 {metrics['a_w1']:.4f} · a_std {metrics['a_std']:.4f}"
        )
    worst = metrics["worst"]
    diverged = f" · {metrics['diverged']} diverged" if metrics["diverged"] else ""
    return (
        f"curvegan: {k} GANs × {metrics['steps']} G updates in {seconds:.1f} s · median shape_rmse"
        f" {metrics['shape_rmse']:.4f} (worst {worst['shape_rmse']:.4f}) · a_w1 {metrics['a_w1']:.4f}"
        f" (worst {worst['a_w1']:.4f}) · a_std {metrics['a_std']:.4f}{diverged}"
    )


@hydra.main(version_base="1.3", config_path="pkg://curvegan.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Train, and return the median member's shape_rmse + a_w1 for sweepers to minimise.

    A single run's config was already validated before Hydra made its run dir (config.RefuseBeforeRun); a
    sweep job is validated here, and a refused job's dir, which holds only what Hydra wrote, is removed."""
    try:
        return objective_value(train(cfg))
    except ConfigError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            remove_if_only_hydra_wrote(Path(cfg.run_dir))
            raise  # this job fails, the sweep goes on, and Hydra reports it at the end
        print(f"curvegan.train: {err}", file=sys.stderr)
        sys.exit(2)


def remove_if_only_hydra_wrote(run_dir: Path) -> None:
    """Remove a job dir that holds nothing but Hydra's .hydra/ and the job's log."""
    import shutil

    if run_dir.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in run_dir.iterdir()):
        logging.shutdown()  # the job's log file is open
        shutil.rmtree(run_dir, ignore_errors=True)


def one_line(err: BaseException) -> str:
    """Hydra's and OmegaConf's multi-line messages, cut to what names the key, the value and what is allowed."""
    parts = []
    for part in (err, err.__cause__):
        lines = []
        for line in str(part or "").splitlines():
            line = line.strip()
            if line.startswith("Config search path"):
                break
            if line and not line.startswith(("full_key", "object_type", "reference_type")):
                lines.append(line)
        if lines:
            parts.append(" ".join(lines))
    return ": ".join(parts).replace("Available options in", "available options for")


def cli() -> None:
    """`python -m curvegan.train`: Hydra's main, with bad input reported as one line (full traces with
    HYDRA_FULL_ERROR=1, as in Hydra)."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        main()
        return
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us instead of its multi-line report
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        print(f"curvegan.train: {one_line(err)}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # a file or folder Hydra could not make
        print(f"curvegan.train: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
