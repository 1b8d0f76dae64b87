"""Train a CurveGAN from the composed Hydra config: `python -m curvegan.train [overrides]`.

`train(cfg)` does the work and returns the final metrics; `main` is the thin Hydra entry around it and returns
one number for sweepers (lower is better). Heavy imports happen inside `train`, so `--help` stays quick.
"""

from __future__ import annotations

import json
import logging
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

from curvegan.config import ConfigError, register_schemas, resolve_ckpt_path, validate

register_schemas()


class TrainingFailed(CompactHydraException):
    """The run could not finish (it diverged); Hydra prints the one-line message and exits non-zero."""


def objective_value(metrics: dict) -> float:
    """What sweeps minimise: shape error plus coverage error, both in units of y (or a)."""
    return metrics["shape_rmse"] + metrics["a_w1"]


def _quiet_lightning() -> None:
    """Let Hydra's logging print Lightning's messages once (Lightning adds a console handler of its own)."""
    logging.getLogger("lightning").handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")


def train(cfg: DictConfig) -> dict:
    """Fit the GAN described by `cfg`, write metrics.json and samples.npy into cfg.run_dir, return the metrics.

    Raises ConfigError, before anything is written, if a value cannot work.
    """
    validate(cfg)
    import lightning as L
    import numpy as np
    import torch
    from hydra.utils import instantiate

    from curvegan.callbacks import CurveMonitor, Interrupted
    from curvegan.gan import Diverged
    from curvegan.metrics import curve_quality

    _quiet_lightning()
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    # Only a finished run has these: a resumed run must not look finished before it is.
    for stale in ("metrics.json", "samples.npy"):
        (run_dir / stale).unlink(missing_ok=True)
    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
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

    samples = model.sample(cfg.evaluation.num_samples, cfg.evaluation.seed)
    metrics = {
        **curve_quality(samples, datamodule.x, datamodule.hparams.a_min, datamodule.hparams.a_max),
        "steps": model.g_updates,
        "seconds": round(seconds, 3),
    }
    metrics["objective"] = objective_value(metrics)
    monitor = next((c for c in callbacks if isinstance(c, CurveMonitor)), None)
    if trainer.is_global_zero:
        np.save(run_dir / "samples.npy", samples.numpy().astype(np.float32))
        history = monitor.history if monitor else []
        (run_dir / "metrics.json").write_text(json.dumps({**metrics, "history": history}, indent=2) + "\n")
        print(
            f"curvegan: {metrics['steps']} G updates in {seconds:.1f} s · shape_rmse {metrics['shape_rmse']:.4f}"
            f" · a_w1 {metrics['a_w1']:.4f} · a_std {metrics['a_std']:.4f}\n"
            f"run dir: {run_dir}"
        )
    return metrics


@hydra.main(version_base="1.3", config_path="../../configs", config_name="train")
def main(cfg: DictConfig) -> float:
    OmegaConf.resolve(cfg)
    try:
        return objective_value(train(cfg))
    except ConfigError as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # this job fails, the sweep goes on, and Hydra reports it at the end
        print(f"curvegan.train: {err}", file=sys.stderr)
        sys.exit(2)


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


if __name__ == "__main__":
    cli()
