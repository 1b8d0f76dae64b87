"""A sweep as one ensemble: the jobs of a Hydra multirun that differ only in member-wise keys (learning rates,
betas, penalty weights, the EMA decay, the clipping norm, the seed, the ensemble's size: those declared
`members=True` in curvegan.keys) train side by side in one model, each job a block of its members
(curvegan.blocks), and each job's dir is left as if it had run alone.

`launch` is the work of the Hydra launcher `hydra/launcher=packed` (hydra_plugins.curvegan_packed_launcher):

1. every job's config is composed as Hydra's basic launcher composes it; a job refused by validation runs
   alone, so Hydra records its one-line refusal, and the others go on without it;
2. the jobs are grouped by everything but their member-wise keys (`group_key`), each group cut into groups of
   at most `max_members` members and halved again where the memory preflight refuses it;
3. a group of one job runs as it would on the basic launcher; a larger group trains as one ensemble
   (`train_group`) whose config gives every member-wise key one value per member (a key all jobs share keeps
   its one value, so a sweep over seeds alone keeps torch's fused Adam), in `SWEEP_DIR/.packed/<group>/`, where
   its own checkpoints are (what `ckpt_path=auto` resumes from);
4. each job then gets its own monitor and loggers during training (its TensorBoard events, its history), and
   after it its metrics.json (its members only), samples.npy, checkpoints/last.ckpt (`split_checkpoint`: a
   checkpoint of the job alone, which `curvegan.sample` loads and `ckpt_path=` resumes), its `.hydra/` and log
   (Hydra's run_job writes them), and a JobReturn with its own objective.

On the CPU, groups train side by side, each in a process of its own (`hydra.launcher.processes`, auto: one per
core, a group halved where there are fewer groups than processes); on a GPU, one after another.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from curvegan.errors import ConfigError, refuse

log = logging.getLogger(__name__)

# The run keys a group may differ in besides the member-wise keys of the model and the objective.
RUN_KEYS = ("seed", "ensemble.size", "ensemble.blocks")


@dataclass
class Job:
    """One job of the sweep: its number, its Hydra config (with `hydra`) and its task config (without)."""

    index: int
    config: DictConfig
    task: DictConfig  # as composed (for grouping and the group's config)
    resolved: DictConfig  # with every interpolation resolved for this job (its dirs, its monitor, its loggers)
    dir: Path
    overrides: list[str]
    members: slice = field(default_factory=lambda: slice(0, 0))
    outcome: Any = None  # after its group trained: its metrics, or the exception it failed with
    lines: list[str] = field(default_factory=list)  # its log lines

    @property
    def size(self) -> int:
        return int(self.resolved.ensemble.size)


# --- which jobs go together -----------------------------------------------------------------------------


def member_wise_paths(task: DictConfig, plain: dict | None = None) -> dict[str, Any]:
    """{dotted path: rule} of every member-wise key of the config's model and objective, and the seed. They follow
    from the classes the config names and the keys their nodes hold: found once per such structure (`plain`, the
    config as a container, if given, spares making it)."""
    from curvegan.config import Run, declared_keys, walk
    from curvegan.keys import keys_of

    structure = targets(OmegaConf.to_container(task, resolve=False) if plain is None else plain)
    if structure not in _paths:
        paths = {"seed": keys_of(Run)["seed"].rule}
        for path, cls, node in walk(task):
            for name, declared in (declared_keys(cls) or {}).items():
                if declared.members and name in node:
                    paths[f"{path}.{name}"] = declared.rule
        _paths[structure] = paths
    return _paths[structure]


_paths: dict[tuple, dict[str, Any]] = {}


def targets(plain: dict, path: str = "") -> tuple:
    """(path, _target_, its keys) of every node of a config (as a container) that names a class."""
    out: list[tuple] = []
    for name, value in plain.items():
        if isinstance(value, dict):
            dotted = f"{path}.{name}" if path else str(name)
            if "_target_" in value:
                out.append((dotted, str(value["_target_"]), tuple(sorted(map(str, value)))))
            out.extend(targets(value, dotted))
    return tuple(out)


def group_key(task: DictConfig) -> str:
    """Everything a job's config says but its member-wise keys and its run dir: jobs with the same key train as
    one ensemble. A job resuming a checkpoint it names runs alone."""
    plain = OmegaConf.to_container(task, resolve=False)
    for path in [*member_wise_paths(task, plain), *RUN_KEYS, "run_dir"]:  # (the seed is both)
        *parents, name = path.split(".")
        node = plain
        for parent in parents:
            node = node.get(parent, {})
        node.pop(name, None)
    return repr(plain)


def packable(task: DictConfig) -> bool:
    return task.get("ckpt_path") in (None, "auto", "last")


def groups_of(jobs: list[Job], max_members: int) -> list[list[Job]]:
    """The jobs grouped by `group_key` (in the sweep's order of first appearance; within a group, jobs of the same
    betas side by side), each group cut into groups of at most `max_members` members (a larger job is a group of
    its own)."""
    by_key: dict[str, list[Job]] = {}
    for job in jobs:
        key = group_key(job.task) if packable(job.task) else f"alone {job.index}"
        by_key.setdefault(key, []).append(job)
    groups = []
    for members in by_key.values():
        # jobs of the same betas side by side: the ensemble's Adam then steps them together (memberwise)
        members = sorted(members, key=lambda job: repr(OmegaConf.select(job.resolved, "model.betas")))
        current: list[Job] = []
        for job in members:
            if current and sum(j.size for j in current) + job.size > max_members:
                groups.append(current)
                current = []
            current.append(job)
        groups.append(current)
    return groups


# --- one group's config ---------------------------------------------------------------------------------


def per_member(job: Job, path: str, rule) -> list:
    """A job's value of a member-wise key, one per member of the job (the seed: each member's block's)."""
    from curvegan.blocks import of_run

    if path == "seed":
        return [seed for seed, members in of_run(job.resolved) for _ in range(members.start, members.stop)]
    value = OmegaConf.select(job.resolved, path)
    value = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return list(value) if rule.per_member(value) else [value] * job.size


def block_sizes(job: Job) -> list[int]:
    """The sizes of the job's blocks (one, unless the job gives several seeds)."""
    from curvegan.blocks import of_run

    return [members.stop - members.start for _, members in of_run(job.resolved)]


def group_name(jobs: list[Job]) -> str:
    """The group's folder under SWEEP_DIR/.packed/: the same jobs make the same name, so re-running the sweep's
    command finds the group's checkpoints."""
    digest = hashlib.sha1(repr([(j.index, j.overrides) for j in jobs]).encode()).hexdigest()[:8]
    return f"jobs{jobs[0].index}-{jobs[-1].index}-{digest}"


def group_dir_of(group: list[Job], sweep_dir: Path) -> Path:
    """Where the group trains and keeps its checkpoints: SWEEP_DIR/.packed/<group_name>."""
    return sweep_dir / ".packed" / group_name(group)


def group_config(jobs: list[Job], run_dir: Path) -> DictConfig:
    """The config of one ensemble of all the jobs' members: the first job's, with every member-wise key given one
    value per member (one value where every member has the same), the blocks of every job, no monitor and no
    logger of its own (each job has its own), in `run_dir`."""
    first = jobs[0]
    cfg = copy.deepcopy(first.task)
    with read_write(cfg), open_dict(cfg):
        cfg.run_dir = str(run_dir)
        for path, rule in member_wise_paths(first.task).items():
            values = [v for job in jobs for v in per_member(job, path, rule)]
            same = all(v == values[0] for v in values)
            OmegaConf.update(cfg, path, values[0] if same and path != "seed" else values, merge=False)
        cfg.ensemble.size = sum(job.size for job in jobs)
        cfg.ensemble.blocks = [size for job in jobs for size in block_sizes(job)]
        if cfg.get("callbacks") is not None and "monitor" in cfg.callbacks:
            cfg.callbacks.monitor = None
        cfg.logger = None
    return cfg


# --- what each job sees of the group's model ---------------------------------------------------------------


class JobView:
    """The group's model as one job sees it: its members only, with the job's own settings and fixed preview
    inputs (from its lone model, `lone`); everything else is the group's model's. Monitors, `final` and the
    evaluation take it where they take a model."""

    def __init__(self, whole, members: slice, lone):
        self.whole, self.slice, self.lone = whole, members, lone

    def __getattr__(self, name: str):
        return getattr(self.whole, name)

    @property
    def members(self) -> int:
        return self.slice.stop - self.slice.start

    @property
    def diverged_at(self):
        return self.whole.diverged_at[self.slice]

    @property
    def hparams(self):
        return self.lone.hparams

    @property
    def objective(self):
        return self.lone.objective

    @property
    def Config(self):  # noqa: N802 (the model's keys, as the model class names them)
        return self.lone.Config

    @property
    def preview_noise(self):
        return self.lone.preview_noise

    @property
    def preview(self):
        return self.lone.preview

    def member_scores(self, packed, member: int):
        return self.whole.member_scores(packed, self.slice.start + member)

    def generate(self, inputs, members: slice | None = None):
        start, stop, _ = (members or slice(None)).indices(self.members)
        return self.whole.generate(inputs, slice(self.slice.start + start, self.slice.start + stop))


class JobsLog:
    """The training log (curvegan.training_log) of every job: each job's `2_train/*` from its members, to its
    loggers. The progress line shows the first job's."""

    def __init__(self, every: int, jobs: list[tuple[slice, list]]):
        from curvegan.training_log import TrainingLog

        self.logs = [(members, TrainingLog(every), loggers) for members, loggers in jobs]

    @property
    def values(self) -> dict:
        return self.logs[0][1].values

    def add(self, per_update, g_updates: int, alive, loggers) -> None:
        for members, training_log, own in self.logs:
            training_log.add(per_update[..., members], g_updates, alive[members], own)


# --- training one group -------------------------------------------------------------------------------------


def checked_config(jobs: list[Job], group_dir: Path) -> DictConfig:
    """The group's config (`group_config`), validated and resolved; ConfigError where it cannot work."""
    from curvegan.config import validate

    cfg = group_config(jobs, group_dir)
    validate(cfg)
    OmegaConf.resolve(cfg)
    return cfg


def train_group(jobs: list[Job], group_dir: Path, cfg: DictConfig | None = None, each=None) -> None:
    """Train the jobs as one ensemble in `group_dir` (from its `checked_config`, made here if not given) and leave
    each job's dir as if it had run alone; each job's `outcome` is its metrics, and `each(job)`, if given, sees
    each job as soon as its dir is complete (before the next job's final evaluation). Raises ConfigError (before
    anything is written) where the group's config cannot work, and what `curvegan.train.fit` raises (a stop by a
    signal, with the command that resumes it)."""
    from hydra.utils import instantiate

    from curvegan import Interrupted, import_lightning
    from curvegan.train import _quiet_lightning, build, fit, model_of, prepare

    cfg = checked_config(jobs, group_dir) if cfg is None else cfg
    import_lightning()
    _quiet_lightning()
    first = 0
    for job in jobs:
        job.members = slice(first, first + job.size)
        first += job.size
    lones = [model_of(job.resolved) for job in jobs]  # each job's own model: its settings, its preview
    prepare(cfg, group_dir)
    for job in jobs:
        job.dir.mkdir(parents=True, exist_ok=True)
        for stale in ("metrics.json", "samples.npy"):
            (job.dir / stale).unlink(missing_ok=True)
    loggers = [
        [instantiate(lg) for lg in (job.resolved.get("logger") or {}).values() if lg is not None] for job in jobs
    ]
    for own, lone in zip(loggers, lones, strict=True):
        for logger in own:  # what Lightning logs for a run's own loggers at fit start: the model's settings
            logger.log_hyperparams(lone.hparams_initial)
            logger.save()
    monitors = []
    shared = None
    for k, job in enumerate(jobs):
        node = (job.resolved.get("callbacks") or {}).get("monitor")
        if node is None:
            continue
        monitor = instantiate(node)
        shared = shared or monitor.evaluate  # one evaluation of the whole model a measurement, for every job
        monitor.evaluate, monitor.job, monitor.loggers = shared, k, loggers[k]
        monitor.view = lambda whole, members=job.members, lone=lones[k]: JobView(whole, members, lone)
        monitors.append(monitor)
    datamodule, model, callbacks, trainer = build(cfg, extra_callbacks=tuple(monitors))
    model.training_log = JobsLog(
        model.hparams.log_every_n_updates, [(j.members, lg) for j, lg in zip(jobs, loggers, strict=True)]
    )

    def then(cfg, model, trainer, callbacks, seconds):
        finish_jobs(jobs, model, lones, monitors, loggers, trainer, group_dir, seconds, each)

    try:
        fit(cfg, group_dir, datamodule, model, callbacks, trainer, then)
    except Interrupted as stopped:
        if stopped.resume:
            stopped.resume = f"the same command with ckpt_path=auto and hydra.sweep.dir={group_dir.parent.parent}"
        raise


def finish_jobs(jobs, model, lones, monitors, loggers, trainer, group_dir: Path, seconds: float, each=None):
    """After the group's fit: each job's metrics.json, samples.npy and checkpoints/last.ckpt in its own dir, each
    job handed to `each` (if given) as soon as they are written."""
    import torch
    from hydra.utils import instantiate

    from curvegan.evaluation import Evaluator, final
    from curvegan.files import checkpoint_io
    from curvegan.results import records, summary_line, write_metrics

    model.to(trainer.strategy.root_device)
    packed_last = group_dir / "checkpoints" / "last.ckpt"
    packed = torch.load(packed_last, map_location="cpu", weights_only=True) if packed_last.exists() else None
    by_job = {m.job: m for m in monitors}
    for k, job in enumerate(jobs):
        view = JobView(model, job.members, lones[k])
        monitor = by_job.get(k)
        evaluator = monitor.evaluate if monitor else Evaluator(OmegaConf.to_container(job.resolved.evaluation))
        metrics = final(view, evaluator, job.dir / "samples.npy")
        # its seconds: its members' share of the group's (what the report's cost per setting compares)
        share = seconds * job.size / model.members
        metrics |= {"ensemble_size": job.size, "steps": model.g_updates, "seconds": round(share, 3)}
        metrics["packed"] = {
            "group": str(group_dir),
            "jobs": len(jobs),
            "members": model.members,
            "seconds": round(seconds, 3),
        }
        metrics |= records(monitor, model.family)
        write_metrics(job.dir, metrics)
        if packed is not None and (job.resolved.get("callbacks") or {}).get("checkpoint") is not None:
            callbacks = [instantiate(c) for c in (job.resolved.get("callbacks") or {}).values() if c is not None]
            ckpt = split_checkpoint(packed, k, jobs, model, lones[k], callbacks, group_dir)
            checkpoint_io().save_checkpoint(ckpt, job.dir / "checkpoints" / "last.ckpt")  # whole or not at all
        for logger in loggers[k]:
            logger.finalize("success")
        job.lines = [epoch_line(entry, job.size, trainer.max_epochs) for entry in metrics["history"]]
        whole = f" (its share of {seconds:.1f} s for {len(jobs)} jobs, {model.members} GANs packed)"
        job.lines.append(summary_line(metrics, share) + whole)
        job.outcome = metrics
        if each is not None:
            each(job)


def epoch_line(entry: dict, members: int, epochs: int) -> str:
    from curvegan.metrics import headline

    latest = {k: v for k, v in entry.items() if k not in ("epoch", "step", "worst")}
    median = "median " if members > 1 else ""
    return f"epoch {entry['epoch']}/{epochs} · {entry['step']} G updates · {median}{headline(latest)}"


# --- a job's checkpoint -------------------------------------------------------------------------------------


def split_checkpoint(packed: dict, k: int, jobs: list[Job], model, lone, callbacks: list, group_dir: Path) -> dict:
    """Job k's checkpoint, as the job alone would have written it at the same point: its members' weights, Adam
    moments and random streams, its own settings (the lone model's hyperparameters) and fixed inputs, its
    monitor's history, its checkpoint paths; the loops' state as the group's (every job made the same updates)."""
    from curvegan.parts import MEMBER_AXIS

    job = jobs[k]
    members = job.members
    ckpt = dict(packed)
    own = lone.state_dict()
    ckpt["state_dict"] = {
        key: value[members].clone() if key.startswith(MEMBER_AXIS) else own[key]
        for key, value in packed["state_dict"].items()
    }
    ckpt["hyper_parameters"] = copy.deepcopy(dict(lone.hparams))
    if "curvegan_seconds" in packed:  # its members' share of the group's, as its metrics.json's seconds
        ckpt["curvegan_seconds"] = packed["curvegan_seconds"] * job.size / model.members
    states = packed.get("noise_rng_state")
    if isinstance(states, list):  # one per block: the job's own blocks
        first = sum(len(block_sizes(j)) for j in jobs[:k])
        mine = states[first : first + len(block_sizes(job))]
        ckpt["noise_rng_state"] = mine[0] if len(mine) == 1 else mine
    ckpt["optimizer_states"], ckpt["lr_schedulers"] = split_optimizers(packed, members, model, lone)
    ckpt["callbacks"] = split_callbacks(packed["callbacks"], k, callbacks, group_dir, job.dir)
    return ckpt


def split_optimizers(packed: dict, members: slice, model, lone) -> tuple[list, list]:
    """G's and D's Adam state for the job's members, with the learning rates and betas the job's own optimizers
    have (as its settings make them, times the schedule's factor where lr_decay is on)."""
    from curvegan import memberwise

    hp, own = model.hparams, lone.hparams
    optimizers, schedules = [], []
    for index, (lr_key, params) in enumerate(
        (("g_lr", lone.generator.parameters()), ("d_lr", lone.discriminator.parameters()))
    ):
        state = packed["optimizer_states"][index]
        template = memberwise.adam(params, own[lr_key], own.betas, lone.members).state_dict()["param_groups"][0]
        whole_lr = hp[lr_key] if memberwise.fused(hp[lr_key], hp.betas) else 1.0
        (group,) = state["param_groups"]
        base = group.get("initial_lr", whole_lr)
        factor = group["lr"] / base
        mine = dict(template, params=group["params"])
        mine["lr"] = group["lr"] if base == template["lr"] else template["lr"] * factor
        if "initial_lr" in group:
            mine["initial_lr"] = template["lr"]
        moments = {
            index: {name: value[members].clone() if name != "step" else value for name, value in entry.items()}
            for index, entry in state["state"].items()
        }
        optimizers.append({"state": moments, "param_groups": [mine]})
        if packed.get("lr_schedulers"):
            schedule = dict(packed["lr_schedulers"][index])
            schedule["base_lrs"], schedule["_last_lr"] = [template["lr"]], [mine["lr"]]
            schedules.append(schedule)
    return optimizers, schedules


def split_callbacks(states: dict, k: int, callbacks: list, group_dir: Path, job_dir: Path) -> dict:
    """The job's callbacks' states under the keys its own callbacks have: its monitor's, the group's checkpoint
    callback's with the job's paths, the others as the group's."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    from curvegan.callbacks import Monitor

    out = {}
    for callback in callbacks:
        if isinstance(callback, Monitor):
            found = states.get(f"Monitor{{job={k}}}")
        else:
            found = states.get(callback.state_key)
        if found is None:
            continue
        if isinstance(callback, ModelCheckpoint):
            found = moved(found, str(group_dir), str(job_dir))
        out[callback.state_key] = found
    return out


def moved(value, old: str, new: str):
    """`value` with every path under `old` moved under `new` (strings, dict keys, nested)."""
    if isinstance(value, str):
        return new + value[len(old) :] if value.startswith(old) else value
    if isinstance(value, dict):
        return {moved(k, old, new): moved(v, old, new) for k, v in value.items()}
    return value


# --- the launcher's work -------------------------------------------------------------------------------------


class Composer:
    """Each job's config exactly as Hydra's `load_sweep_config` composes it, at a fraction of the cost: Hydra
    composes every job from its defaults (0.2 s a job on the 2-core machine, 7 s of a 32-job sweep); here the
    defaults are composed once per choice of config groups (`objective=hinge`), and each job's value overrides
    (`model.g_lr=1e-4`) are applied to a copy by the function Hydra applies them with. A job that overrides a
    `hydra.` key, or a Hydra without these parts, is composed by Hydra itself. `tests/test_packed.py` compares the
    two."""

    def __init__(self, loader, master: DictConfig):
        self.loader, self.master, self.composed = loader, master, {}
        self.kept: dict[tuple, DictConfig] = {}  # jobs the sweeper's check composed, for the launcher to take

    def take(self, overrides: list[str]) -> DictConfig:
        """A job's config: the one the sweeper's check of its batch composed (each taken once), or composed now."""
        found = self.kept.pop(tuple(overrides), None)
        return found if found is not None else self(overrides)

    def __call__(self, overrides: list[str]) -> DictConfig:
        try:
            from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
            from hydra.core.override_parser.overrides_parser import OverridesParser

            repository = self.loader.repository
            parsed = OverridesParser.create().parse_overrides(list(overrides))
        except (ImportError, AttributeError):
            return self.loader.load_sweep_config(self.master, list(overrides))
        if any(o.is_hydra_override() or o.key_or_group.startswith("hydra") for o in parsed):
            return self.loader.load_sweep_config(self.master, list(overrides))
        groups = [o for o in parsed if repository.group_exists(o.key_or_group)]
        values = [o for o in parsed if not repository.group_exists(o.key_or_group)]
        key = tuple(o.input_line for o in groups)
        if key not in self.composed:
            self.composed[key] = self.loader.load_sweep_config(self.master, list(key))
        cfg = copy.deepcopy(self.composed[key])
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        job = cfg.hydra.job
        with open_dict(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in parsed]
            job.override_dirname = get_overrides_dirname(
                overrides=parsed,
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        return cfg


class ComposingLoader:
    """Hydra's config loader, whose `load_sweep_config` composes through a Composer per master config. The packed
    launcher hands it to the sweep's Hydra context in `setup`, so that the sweeper's own check of each batch
    (`Sweeper.validate_batch_is_legal`, which composes every job before the launcher composes it again: 7 s of a
    32-job sweep) and the launcher share one composition per choice of config groups, and the launcher takes the
    very configs the check composed. Everything else is the loader's."""

    def __init__(self, loader) -> None:
        self.loader, self.composers = loader, {}

    def composer(self, master: DictConfig) -> Composer:
        if id(master) not in self.composers:  # the master is held, so its id is not reused
            self.composers[id(master)] = (master, Composer(self.loader, master))
        return self.composers[id(master)][1]

    def load_sweep_config(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        composer = self.composer(master_config)
        cfg = composer(list(sweep_overrides))
        composer.kept[tuple(sweep_overrides)] = cfg  # the sweeper only reads it: the launcher takes it
        return cfg

    def __getattr__(self, name: str):
        return getattr(self.loader, name)


def composing(context) -> None:
    """Gives a sweep's Hydra context a ComposingLoader (once)."""
    if context is not None and not isinstance(context.config_loader, ComposingLoader):
        context.config_loader = ComposingLoader(context.config_loader)


def launch(launcher, job_overrides, initial_job_idx: int, run_groups=None) -> list:
    """Hydra's `Launcher.launch` for the packed launcher: compose, refuse, group, train, return. `run_groups(groups,
    sweep_dir, run)`, if given, trains the groups elsewhere (curvegan.packed_slurm.on_slurm: one SLURM job each)
    and hands each job to `run`."""
    from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals

    from curvegan.config import validate

    setup_globals()
    config, context = launcher.config, launcher.hydra_context
    configure_log(config.hydra.hydra_logging, config.hydra.verbose)
    sweep_dir = Path(str(config.hydra.sweep.dir))
    jobs, refused, dirs = [], [], {}
    composing(context)
    compose = context.config_loader.composer(config)
    for offset, overrides in enumerate(job_overrides):
        index = initial_job_idx + offset
        job_config = compose.take(list(overrides))
        with open_dict(job_config):
            job_config.hydra.job.id = index
            job_config.hydra.job.num = index
        job = job_of(index, job_config, list(overrides))
        other = dirs.setdefault(job.dir, index)
        if other != index:  # two jobs in one dir: the second would train over the first
            subdir = OmegaConf.to_container(config.hydra.sweep)["subdir"]
            raise refuse("hydra.sweep.subdir", subdir, f"one dir per job (jobs {other} and {index} share {job.dir})")
        try:
            validate(job.task, in_group=packable(job.task))  # (it only reads; its dir is its group's to check)
            jobs.append(job)
        except ConfigError:
            refused.append(job)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    log.info(f"Packing {len(job_overrides)} jobs ({len(refused)} refused)")
    groups = groups_of(jobs, int(launcher.max_members))
    returns: dict[int, JobReturn] = {}

    def run(job: Job, task_function) -> None:
        returns[job.index] = run_job(
            hydra_context=context,
            task_function=task_function,
            config=job.config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(config.hydra.hydra_logging, config.hydra.verbose)

    for job in refused:  # its own run: the task refuses it in one line and removes its dir
        run(job, launcher.task_function)
    if run_groups is not None:
        run_groups(groups, sweep_dir, run)
        return [returns[initial_job_idx + offset] for offset in range(len(job_overrides))]

    def finished(group: list[Job]) -> None:  # each job's run_job, once its dir is complete
        for job in group:
            run(job, lambda task, job=job: replay(job))

    def refuse_job(job: Job, error: ConfigError) -> None:  # its one line, as Hydra reports a failed job
        run(job, lambda task, error=error: fail(error))

    side = processes(launcher.processes, groups)
    if side > 1:
        alone = side_by_side(spread(groups, side), sweep_dir, side, finished, refuse_job)
    else:
        alone = one_after_another(groups, sweep_dir, finished, refuse_job)
    for job in alone:
        log.info(f"\t#{job.index} : {' '.join(filter_overrides(job.overrides))}")
        run(job, launcher.task_function)
    return [returns[initial_job_idx + offset] for offset in range(len(job_overrides))]


def shown(group: list[Job]) -> str:
    """A group's jobs as a log line names them: every number for a few, the first and the last for many."""
    numbers = [f"#{j.index}" for j in group]
    listed = ", ".join(numbers) if len(numbers) <= 8 else f"{', '.join(numbers[:3])}, …, {numbers[-1]}"
    return f"{len(group)} jobs ({listed})"


def starting(group: list[Job], group_dir: Path) -> None:
    log.info(f"\t{shown(group)} as one ensemble of {sum(j.size for j in group)} GANs in {group_dir}")


def halves(group: list) -> list[list]:
    """A group the memory preflight refused, in two."""
    return [group[: len(group) // 2], group[len(group) // 2 :]]


def may_train(group: list[Job], sweep_dir: Path) -> tuple[list[Job], list[Job]]:
    """The group as it may train, and the jobs it must leave out. A group that resumes its checkpoint
    (ckpt_path=auto, and SWEEP_DIR/.packed/<group>/checkpoints/last.ckpt is there) takes its jobs' dirs as they
    are: what they hold (TensorBoard events, or the results of a write-out a signal cut short) its earlier start
    wrote, and it writes them again. A group that starts afresh leaves out each job whose dir already holds a run
    (its group stopped before its first checkpoint, its group's folder is gone, or the sweep's jobs changed),
    rather than train over it."""
    from curvegan.preflight import held_outputs

    held = [job for job in group if held_outputs(job.dir)]
    if held and group[0].task.get("ckpt_path") in ("auto", "last"):  # (the same for every job: group_key)
        resumed = resumed_jobs(group, sweep_dir)
        held = [job for job in held if job.index not in resumed]
    out = {job.index for job in held}
    return [job for job in group if job.index not in out], held


def resumed_jobs(group: list[Job], sweep_dir: Path) -> set[int]:
    """The jobs of the group that a checkpoint of it resumes: every job where the group has one, else those its
    halves' checkpoints resume (the halves the memory preflight made of it before, and will make again)."""
    if (group_dir_of(group, sweep_dir) / "checkpoints" / "last.ckpt").is_file():
        return {job.index for job in group}
    if len(group) < 2:
        return set()
    return set().union(*(resumed_jobs(half, sweep_dir) for half in halves(group)))


def holds_a_run(job: Job, sweep_dir: Path) -> ConfigError:
    """The one-line refusal of a job left out of its group (`may_train`) with no checkpoint of its own."""
    from curvegan.preflight import held_outputs

    held = ", ".join(held_outputs(job.dir))
    return ConfigError(
        f"hydra.sweep.dir={sweep_dir}: job {job.index}'s dir {job.dir} already holds a run ({held}) that no"
        " checkpoint resumes (none of its own, none of its group's: a sweep resumes with the jobs and hydra.launcher"
        " settings it started with); give another sweep dir, or empty the job's dir"
    )


def next_group(pending: list[list[Job]], sweep_dir: Path, alone: list[Job], refused) -> list[Job] | None:
    """The next group of several jobs to train, as `may_train` lets it, or None where it is one job or none. A job
    alone goes to `alone` (it runs as its own task checks it), and so does a job left out that holds its own
    checkpoint (its task resumes it); a job left out without one goes to `refused`, with its one line."""
    group, held = pending.pop(0), []
    if len(group) > 1:
        group, held = may_train(group, sweep_dir)
    from curvegan.preflight import resolve_ckpt_path

    for job in held:
        if resolve_ckpt_path(job.resolved) is not None:  # its own checkpoint (its group's last write): its task's
            alone.append(job)
        else:
            refused(job, holds_a_run(job, sweep_dir))
    if len(group) > 1:
        return group
    alone.extend(group)
    return None


def one_after_another(groups: list[list[Job]], sweep_dir: Path, finished, refused) -> list[Job]:
    """Train every group of several jobs in this process, one after another, each on every core cpu_threads gives
    it (a group the memory preflight refuses in halves), and hand each to `finished` as it ends; a job its group
    leaves out (`may_train`) to `refused`, with its error. Returns the jobs left to run alone (groups of one)."""
    pending, alone = list(groups), []
    while pending:
        group = next_group(pending, sweep_dir, alone, refused)
        if group is None:
            continue
        group_dir = group_dir_of(group, sweep_dir)
        try:
            starting(group, group_dir)
            started = time.perf_counter()
            train_group(group, group_dir)
            log.info(f"\t{shown(group)}: {time.perf_counter() - started:.1f} s")
        except ConfigError:  # the group is too large for the memory preflight: in halves
            pending[:0] = halves(group)
            continue
        finished(group)
    return alone


# --- groups side by side --------------------------------------------------------------------------------------


def cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def processes(setting: Any, groups: list[list[Job]]) -> int:
    """How many groups train at once (`hydra.launcher.processes`): auto is every core this process may use where
    every group of several jobs trains on the CPU, else 1 (a GPU trains one group at a time); never more than
    the groups there can be (`spread`)."""
    several = [g for g in groups if len(g) > 1]
    on_cpu = all(str(OmegaConf.select(j.resolved, "trainer.accelerator")) == "cpu" for g in several for j in g)
    wanted = (cores() if setting == "auto" else int(setting)) if on_cpu else 1
    most = sum(max(1, len(g) // 2) for g in several)  # halves of at least two jobs each
    return max(1, min(wanted, most))


def spread(groups: list[list[Job]], count: int) -> list[list[Job]]:
    """The groups, the largest of several jobs halved (by members, each half at least two jobs) until there are
    `count` groups of several jobs to train side by side, or none can be halved."""
    groups = [list(g) for g in groups]
    while sum(len(g) > 1 for g in groups) < count:
        splittable = [g for g in groups if len(g) >= 4]
        if not splittable:
            break
        largest = max(splittable, key=lambda g: sum(j.size for j in g))
        sizes, cut = [j.size for j in largest], 1
        while sum(sizes[:cut]) < sum(sizes) / 2:
            cut += 1
        cut = min(max(cut, 2), len(largest) - 2)
        at = groups.index(largest)
        groups[at : at + 1] = [largest[:cut], largest[cut:]]
    return groups


def side_by_side(groups: list[list[Job]], sweep_dir: Path, count: int, finished, refused) -> list[Job]:
    """Train every group of several jobs, `count` at a time, each in a process of its own forked from this one,
    with the cores shared between them (cpu_threads=auto: one thread each on a machine of `count` cores), and hand
    each job to `finished` as soon as its dir is complete (its group evaluating its next job meanwhile). A stop
    signal is passed on to every group training: each writes its checkpoint and the sweep stops with one line, as
    one group does. A group that fails lets the others finish, then the sweep fails with its line. Returns the jobs
    left to run alone, and hands on the jobs left out, as `one_after_another`."""
    import multiprocessing
    import multiprocessing.connection
    import os
    import signal

    from curvegan import Interrupted, stop_signals
    from curvegan.train import TrainingFailed, collect_from_here

    collect_from_here()  # start-up's objects frozen before the fork: no collection walks (and copies) them
    context = multiprocessing.get_context("fork")
    threads = max(1, cores() // count)
    pending, running, alone = list(groups), {}, []
    stops: list[tuple] = []
    failure: BaseException | None = None

    def pass_on(signum: int) -> None:
        for child, *_ in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(child.pid, signum)

    def forward(signum, frame) -> None:
        stops.append((signum, None, None))
        pass_on(signum)

    previous = {signum: signal.signal(signum, forward) for signum in stop_signals()}
    try:
        while pending or running:
            while pending and len(running) < count and not stops and failure is None:
                group = next_group(pending, sweep_dir, alone, refused)
                if group is None:
                    continue
                group_dir = group_dir_of(group, sweep_dir)
                receive, send = context.Pipe(duplex=False)
                child = context.Process(target=train_in_child, args=(group, group_dir, threads, previous, send))
                starting(group, group_dir)
                child.start()
                send.close()
                running[receive] = (child, group, time.perf_counter())
            if not running:
                break
            for receive in multiprocessing.connection.wait(list(running)):
                child, group, started = running[receive]
                try:
                    result = receive.recv()
                except EOFError:  # it died without a word (killed, out of memory)
                    result = None
                if result is not None and result[0] == "job":  # one job's dir complete: its run_job now
                    (job,) = (j for j in group if j.index == result[1])
                    job.outcome, job.lines = result[2:]
                    finished([job])
                    continue
                del running[receive]
                receive.close()
                child.join()
                if result is None:
                    why = f"the process training {shown(group)} ended without a result (exit status {child.exitcode})"
                    resume = f"the same command with ckpt_path=auto and hydra.sweep.dir={sweep_dir}"
                    result = ("failed", TrainingFailed(f"{why}; its checkpoints, if any, resume with {resume}"))
                if result[0] == "done":
                    log.info(f"\t{shown(group)}: {time.perf_counter() - started:.1f} s")
                elif result[0] == "refused":  # too large for the memory preflight: in halves
                    pending[:0] = halves(group)
                elif result[0] == "stopped":  # a signal that reached it alone: the others stop too
                    stops.insert(0, result[1:])
                    pass_on(result[1])
                else:
                    log.error(f"\t{shown(group)}: {result[1]}")
                    failure = failure or result[1]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if stops:
        signum, message, resume = next((s for s in stops if s[1] is not None), stops[0])
        stop = Interrupted(signum)
        if message is not None:
            stop.args = (message,)
        stop.resume = resume or f"the same command with ckpt_path=auto and hydra.sweep.dir={sweep_dir}"
        raise stop
    if failure is not None:
        raise failure
    return alone


def train_in_child(group: list[Job], group_dir: Path, threads: int, handlers: dict, send) -> None:
    """A forked process's work: the group's training (`train_group`) on `threads` threads where cpu_threads is
    auto; sends back ("job", index, outcome, lines) for each job as its dir is complete, then ("done",),
    ("refused", line), ("stopped", signal, line, resume) or ("failed", exception)."""
    import pickle
    import signal

    from curvegan import Interrupted
    from curvegan.train import TrainingFailed

    for signum, handler in handlers.items():  # the launcher's own, as before the fork (a stop: one line)
        signal.signal(signum, handler)
    try:
        cfg = checked_config(group, group_dir)
        if cfg.cpu_threads == "auto":
            with open_dict(cfg):
                cfg.cpu_threads = threads
        train_group(group, group_dir, cfg, each=lambda job: send.send(("job", job.index, job.outcome, job.lines)))
        result: tuple = ("done",)
    except ConfigError as err:
        result = ("refused", str(err))
    except Interrupted as stopped:
        result = ("stopped", stopped.signum, str(stopped), stopped.resume)
    except Exception as err:  # noqa: BLE001 (handed to the launcher, which raises it as the group's own would)
        try:
            pickle.dumps(err)
            result = ("failed", err)
        except Exception:  # noqa: BLE001
            result = ("failed", RuntimeError(f"{type(err).__name__}: {err}"))
    except BaseException as err:  # noqa: BLE001 (a SystemExit or KeyboardInterrupt: never a sweep that exits 0)
        result = ("failed", TrainingFailed(f"the group of {shown(group)} stopped: {type(err).__name__} {err}"))
    send.send(result)
    send.close()


def fail(error: Exception) -> float:
    """A job's task that fails with `error` (a job its group did not train)."""
    raise error


def replay(job: Job) -> float:
    """A packed job's task, run by Hydra's run_job after its group trained: its log lines, its summary line, its
    objective (what a sweeper minimises)."""
    for line in job.lines[:-1]:
        logging.getLogger("curvegan.callbacks").info(line)
    print(job.lines[-1] + f"\nrun dir: {job.dir}")
    return job.outcome["objective"]


def job_of(index: int, config: DictConfig, overrides: list[str]) -> Job:
    """A job of the sweep: its run dir as Hydra's run_job will make it, its task config with `run_dir` there."""
    from hydra.core.hydra_config import HydraConfig

    out = Path(str(OmegaConf.select(config, "hydra.sweep.dir"))) / str(OmegaConf.select(config, "hydra.sweep.subdir"))
    with read_write(config.hydra.runtime), open_dict(config.hydra.runtime):
        config.hydra.runtime.output_dir = str(out.absolute())
    HydraConfig.instance().set_config(config)
    task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])  # a copy, the hydra node left out
    OmegaConf.set_struct(task, OmegaConf.is_struct(config))
    with read_write(task), open_dict(task):
        if OmegaConf.is_interpolation(task, "run_dir"):
            task.run_dir = str(out.absolute())
    resolved = copy.deepcopy(task)
    OmegaConf.resolve(resolved)
    return Job(index=index, config=config, task=task, resolved=resolved, dir=out.absolute(), overrides=overrides)
