"""What a finished run leaves and says: every member measured, samples.npy and metrics.json (strict JSON: a value
that is not defined or not finite is null) written whole, and the run's last line; and the line for a run that
filled its disk."""

from __future__ import annotations

import json
import math
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from curvegan.files import write_bytes


def strict_json(value):
    """value with every non-finite float (NaN, ±inf) as None: JSON has no such numbers, so null means
    "not defined" (mode_kl with no high-quality sample) or "not finite"."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def full_disk(run_dir: Path, filename: str | None, resumable: bool) -> str:
    """The one line for a run that filled its disk: the run dir, the file it was writing, what is kept."""
    where = Path(filename or "?")
    shown = where.relative_to(run_dir) if run_dir in where.parents else where
    line = f"{run_dir}: the disk is full (writing {shown}); the files written before are kept whole"
    return line + (f"; resume with hydra.run.dir={run_dir} ckpt_path=last once there is room" if resumable else "")


def finish(cfg: DictConfig, model, trainer, callbacks: list, seconds: float) -> dict:
    """After fit: every member measured, samples.npy and metrics.json written (by the first process), the
    summary printed; the metrics returned."""
    from curvegan.callbacks import Monitor
    from curvegan.evaluation import Evaluator, final

    run_dir = Path(cfg.run_dir)
    samples_path = run_dir / "samples.npy" if trainer.is_global_zero else None
    model.to(trainer.strategy.root_device)  # Lightning hands the model back on the CPU; measure where it trained
    monitor = next((c for c in callbacks if isinstance(c, Monitor)), None)
    evaluator = monitor.evaluate if monitor else Evaluator(OmegaConf.to_container(cfg.evaluation))  # one reference set
    metrics = final(model, evaluator, samples_path)
    metrics |= {"ensemble_size": model.members, "steps": model.g_updates, "seconds": round(seconds, 3)}
    if trainer.is_global_zero:
        metrics |= records(monitor, model.family)
        write_metrics(run_dir, metrics)
        print(summary_line(metrics, seconds) + f"\nrun dir: {run_dir}")
    return metrics


def records(monitor, family) -> dict:
    """What metrics.json keeps of training besides the final numbers: `history` (the quality after each measured
    epoch) and, for a family of modes, `mode_coverage` (curvegan.callbacks.Monitor.coverage_record)."""
    coverage = monitor.coverage_record(family) if monitor else None
    return {"history": monitor.history if monitor else []} | ({"mode_coverage": coverage} if coverage else {})


def write_metrics(run_dir: Path, metrics: dict) -> None:
    """metrics.json, strict JSON, written whole or not at all."""
    text = json.dumps(strict_json(metrics), indent=2, allow_nan=False) + "\n"
    write_bytes(run_dir / "metrics.json", text.encode())


def summary_line(metrics: dict, seconds: float) -> str:
    """What a finished run prints: its size, time and the headline metrics of its family and variant (an
    ensemble's medians, each with the worst member's value)."""
    from curvegan.metrics import headline

    values = {name: metrics[name] for name in metrics["declarations"]}
    k = metrics["ensemble_size"]
    if k == 1:
        return f"curvegan: {metrics['steps']} G updates in {seconds:.1f} s · {headline(values)}"
    diverged = f" · {metrics['diverged']} diverged" if metrics["diverged"] else ""
    return (
        f"curvegan: {k} GANs × {metrics['steps']} G updates in {seconds:.1f} s · median"
        f" {headline(values, metrics['worst'])}{diverged}"
    )
