"""The settings of the Hydra plugins a sweep runs on, checked before a multirun writes anything
(`curvegan.config.RefuseBeforeRun.on_multirun_start`).

Hydra's joblib and submitit launchers and its Optuna sweeper hand their settings on to joblib, sbatch and Optuna,
which refuse a value they cannot use only once the sweep has begun, with a traceback and a sweep dir already
made: joblib's `n_jobs=0` ("has no meaning"), a SLURM job of 0 CPUs or nodes, Optuna's `n_trials=0` or a
direction it does not know. Here each such key has its rule (curvegan.keys), by the plugin's `_target_`; a
value that breaks it is refused in one line naming `hydra.launcher.KEY` or `hydra.sweeper.KEY`. The packed
launcher's own keys (max_members, processes) are its own to check (hydra_plugins.curvegan_packed_launcher).

What only the cluster can know (a partition it lacks, a limit it sets) comes back from sbatch, also as one
line: `refused_by_slurm`."""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from curvegan.errors import refuse
from curvegan.keys import Rule, optional, whole

JOBLIB = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
SUBMITIT = "hydra_plugins.hydra_submitit_launcher.submitit_launcher"
OPTUNA = "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
PACKED_SLURM = "hydra_plugins.curvegan_packed_launcher.packed_launcher.PackedSlurmLauncher"

N_JOBS = Rule(
    lambda v: isinstance(v, int) and not isinstance(v, bool) and v != 0,
    "a whole number other than 0 (-1: every core, -2: all but one)",
    0,
)
# what submitit runs locally: a job's time, tasks, CPUs, GPUs, memory and nodes
JOB = {
    "timeout_min": whole(1),
    "cpus_per_task": optional(whole(1)),
    "gpus_per_node": optional(whole(0)),
    "tasks_per_node": whole(1),
    "mem_gb": optional(whole(0)),  # 0: all of a node's memory (sbatch's --mem=0)
    "nodes": whole(1),
}
# ... or passes to sbatch, where a time limit of 0 is none (sbatch's --time=0)
SLURM_JOB = JOB | {"timeout_min": whole(0)}
# Optuna's direction: `main` returns one number, so one direction (a list would make a multi-objective study)
DIRECTION = Rule(lambda v: getattr(v, "name", v) in ("minimize", "maximize"), "minimize or maximize", "up")

RULES: dict[str, dict[str, dict[str, Rule]]] = {
    "launcher": {
        JOBLIB: {"n_jobs": N_JOBS},
        f"{SUBMITIT}.SlurmLauncher": {**SLURM_JOB, "array_parallelism": whole(1)},
        f"{SUBMITIT}.LocalLauncher": JOB,
        PACKED_SLURM: SLURM_JOB,
    },
    "sweeper": {OPTUNA: {"n_trials": whole(1), "n_jobs": whole(1), "direction": DIRECTION}},
}


def check(hydra: DictConfig) -> None:
    """Refuse the first setting of the sweep's launcher or sweeper (`hydra`: the config's hydra node) that its
    plugin could not use."""
    for part, by_target in RULES.items():
        node = hydra.get(part)
        rules = by_target.get(node.get("_target_")) if isinstance(node, DictConfig) else None
        for name, rule in (rules or {}).items():
            allowed = rule(node.get(name))
            if allowed is not None:
                raise refuse(f"hydra.{part}.{name}", node.get(name), allowed)


def refused_by_slurm(err: BaseException) -> str | None:
    """sbatch's own reason, when `err` is submitit's report that sbatch refused a submission (its last line:
    `sbatch: error: Batch job submission failed: Invalid partition name specified`); else None."""
    utils = sys.modules.get("submitit.core.utils")  # loaded by whatever submitted: nothing to import here
    if utils is None or not isinstance(err, utils.FailedJobError):
        return None
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines and lines[-1].startswith("sbatch") else None
