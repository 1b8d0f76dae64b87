"""A packed sweep on a SLURM cluster (`hydra/launcher=packed_slurm`): each group of jobs (curvegan.packed) is one
SLURM job, submitted through submitit with the settings of the SLURM launcher (configs/hydra/launcher/slurm.yaml:
partition, time limit, CPUs, GPUs, memory), all groups at once; the launcher waits for them, then writes each
job's `.hydra/` and log and returns its JobReturn, as the local packed launcher does. The group trains on its
node exactly as it would locally (`curvegan.packed.train_group`), into the same job dirs (a shared filesystem,
as submitit's own launcher assumes). A group stopped on its node (SIGTERM, a preemption, its time limit) fails its
jobs with one line; the same command with `ckpt_path=auto` resumes it from its checkpoint."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any


def train_on_node(jobs: list, group_dir: Path, cfg) -> list[tuple[Any, list[str]]]:
    """What a SLURM job runs: the group's training; each job's outcome (its metrics) and log lines."""
    from curvegan.packed import train_group

    train_group(jobs, group_dir, cfg)
    return [(job.outcome, job.lines) for job in jobs]


def submit(groups: list[tuple[list, Path, Any]], settings: dict, folder: Path) -> list:
    """Submit every group as one SLURM job; wait for all; each group's [(outcome, lines)] per job, or the
    exception its SLURM job failed with."""
    import submitit

    from curvegan.errors import ConfigError
    from curvegan.sweep_plugins import refused_by_slurm

    executor = submitit.AutoExecutor(folder=str(folder / "%j"), cluster="slurm")
    parameters = {
        "timeout_min": settings["timeout_min"],
        "cpus_per_task": settings["cpus_per_task"],
        "gpus_per_node": settings["gpus_per_node"],
        "tasks_per_node": settings["tasks_per_node"],
        "mem_gb": settings["mem_gb"],
        "nodes": settings["nodes"],
        "name": "curvegan-packed",
    }
    if settings.get("partition"):
        parameters["slurm_partition"] = settings["partition"]
    if settings.get("additional_parameters"):
        parameters["slurm_additional_parameters"] = dict(settings["additional_parameters"])
    executor.update_parameters(**parameters)
    submitted = []
    for jobs, group_dir, cfg in groups:
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # submitit prints what sbatch said, then raises it
                submitted.append(executor.submit(train_on_node, jobs, group_dir, cfg))
        except Exception as err:  # sbatch refused it (a partition or a limit of the cluster's): none trains
            reason = refused_by_slurm(err)
            if reason is None:
                raise
            for job in submitted:
                job.cancel(check=False)
            raise ConfigError(f"hydra/launcher=packed_slurm: SLURM refused the groups' jobs ({reason})") from None
    results = []
    for job in submitted:
        try:
            results.append(job.result())
        except Exception as err:  # the SLURM job failed, or was stopped: its jobs fail with its last line
            results.append(err)
    return results


def on_slurm(groups: list[list], sweep_dir: Path, run, settings: dict) -> None:
    """Every group one SLURM job (a group too large for the memory preflight halved first, here); then each job's
    run_job (`run`) with what its group's SLURM job brought back."""
    from curvegan.errors import ConfigError
    from curvegan.packed import checked_config, fail, group_dir_of, halves, holds_a_run, log, may_train, replay

    pending, ready = list(groups), []
    while pending:
        group, held = may_train(pending.pop(0), sweep_dir)
        for job in held:  # (refused even with a checkpoint of its own: here every job trains in a group)
            error = holds_a_run(job, sweep_dir)
            run(job, lambda task, error=error: fail(error))
        if not group:
            continue
        group_dir = group_dir_of(group, sweep_dir)
        try:
            ready.append((group, group_dir, checked_config(group, group_dir)))
        except ConfigError:
            if len(group) == 1:
                raise
            pending[:0] = halves(group)
    shown = ", ".join(f"{len(g)} jobs ({sum(j.size for j in g)} GANs)" for g, _, _ in ready)
    log.info(f"\tsubmitting {len(ready)} SLURM jobs: {shown}")
    results = submit([(g, d, c) for g, d, c in ready], settings, sweep_dir / ".submitit")
    for (group, _, _), result in zip(ready, results, strict=True):
        for k, job in enumerate(group):
            if isinstance(result, Exception):
                failure = TrainingStopped(f"its group's SLURM job failed: {one_line_of(result)}")
                run(job, lambda task, failure=failure: fail(failure))
                continue
            job.outcome, job.lines = result[k]
            run(job, lambda task, job=job: replay(job))


class TrainingStopped(RuntimeError):
    """A packed job whose group did not finish on its SLURM node."""


def one_line_of(error: Exception) -> str:
    lines = [line for line in str(error).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(error).__name__
