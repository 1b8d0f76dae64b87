"""Train a CurveGAN from the composed Hydra config: `python -m curvegan.train [overrides]`.

`train(cfg)` does the work and returns the final metrics; `main` is the thin Hydra entry around it and returns
one number for sweepers (lower is better). Heavy imports happen inside `train`, so `--help` stays quick.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf


def objective_value(metrics: dict) -> float:
    """What sweeps minimise: shape error plus coverage error, both in units of y (or a)."""
    return metrics["shape_rmse"] + metrics["a_w1"]


def _quiet_lightning() -> None:
    """Let Hydra's logging print Lightning's messages once (Lightning adds a console handler of its own)."""
    logging.getLogger("lightning").handlers.clear()
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(lambda r: "litlogger" not in r.getMessage())
    warnings.filterwarnings("ignore", message=".*isinstance.treespec, LeafSpec.*")


def train(cfg: DictConfig) -> dict:
    """Fit the GAN described by `cfg`, write metrics.json and samples.npy into cfg.run_dir, return the metrics."""
    import lightning as L
    import numpy as np
    import torch
    from hydra.utils import instantiate

    from curvegan.callbacks import CurveMonitor
    from curvegan.metrics import curve_quality

    _quiet_lightning()
    run_dir = Path(cfg.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.cpu_threads:
        torch.set_num_threads(cfg.cpu_threads)
    L.seed_everything(cfg.seed, verbose=False)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, _convert_="all")
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg is not None]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
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
    return objective_value(train(cfg))


if __name__ == "__main__":
    main()
