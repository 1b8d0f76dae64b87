"""Train GANs from the composed Hydra config: `python -m curvegan.train [overrides]`.

`train(cfg)` does the work and returns the final metrics; `main` is the thin Hydra entry around it and returns
one number for sweepers (lower is better); `cli` registers the schemas and turns bad input and signals into one
line. (Composing the config with Hydra's compose API instead needs `curvegan.schemas.register_schemas()` first.)
"""

from __future__ import annotations

import gc
import logging
import os
import signal
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

from curvegan import Interrupted, import_lightning, reuse_freed_memory, stop_signals
from curvegan.config import ConfigError, validate
from curvegan.errors import check_arguments, one_line
from curvegan.files import checkpoint_io, disk_full
from curvegan.results import finish, full_disk, strict_json, summary_line  # noqa: F401 (the command line's)
from curvegan.schemas import register_schemas


def find_our_launcher() -> None:
    """Hydra finds launchers in the `hydra_plugins` namespace package by listing its folders; an editable install
    (`pip install -e .`, as `make install` makes) maps curvegan's folder there through an import hook that such a
    listing cannot see, so the folder is added to the namespace's path (a wheel's is already on it)."""
    import hydra_plugins

    ours = Path(__file__).resolve().parent.parent / "hydra_plugins"
    if (ours / "curvegan_packed_launcher").is_dir() and str(ours) not in list(hydra_plugins.__path__):
        hydra_plugins.__path__.append(str(ours))


find_our_launcher()


class TrainingFailed(CompactHydraException):
    """The run could not finish (it diverged); Hydra prints the one-line message and exits non-zero."""


def cpu_threads(cfg: DictConfig) -> int | None:
    """torch's intra-op threads: with auto, one below 64 members (measured on 2 cores, benchmarks/ensemble.py:
    one thread is fastest for small ensembles, whose matrices are too small to split), every core from 64."""
    if cfg.cpu_threads == "auto":
        return 1 if cfg.ensemble.size < 64 else None
    return cfg.cpu_threads


def collect_from_here() -> None:
    """Python's garbage collection from here on, for what training makes, not what start-up made.

    Start-up (torch, Lightning, Hydra, matplotlib) makes about 400,000 objects that live as long as the process,
    and Python's full collections, triggered by so many new objects, walked all of them six times during it and
    once more at exit: 1.3 s of a default run on the 2-core machine of the README's speed table (timed with
    gc.callbacks: 0.97 s during start-up, 0.38 s at exit).
    `cli` turns collection off for the start-up; here, before fit, the objects made so far are frozen (left out
    of every later collection, gc.freeze) and collection is on again. Only a process whose start-up `cli` ran
    does this, once: a `train` called from Python (a notebook, a test, the next job of a sweep in the same
    process) collects as usual."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def build(cfg: DictConfig, extra_callbacks: tuple = ()):
    """The data module, the model, the callbacks, the loggers and the trainer the config describes (with
    `extra_callbacks` before the config's: a packed sweep's monitors measure an epoch before a stop signal's
    checkpoint is written at its end, as the config's own monitor does, so the checkpoint holds that epoch)."""
    from hydra.utils import instantiate

    from curvegan.data import RealData

    model = model_of(cfg)
    hp = model.hparams
    datamodule = RealData(model.family, members=cfg.ensemble.size, seed=hp.seed, sizes=hp.blocks)
    callbacks = [*extra_callbacks, *(instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None)]
    loggers = [instantiate(lg) for lg in (cfg.get("logger") or {}).values() if lg is not None]
    plugins = [*cluster_environment(), checkpoint_io()]  # checkpoints written whole or not at all
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, plugins=plugins)
    return datamodule, model, callbacks, trainer


def model_of(cfg: DictConfig):
    """The model the config describes. It builds its parts (networks, variant, objective) from their config nodes,
    and keeps them as such in its checkpoints' hyperparameters."""
    from hydra.utils import get_object

    from curvegan import registry
    from curvegan.blocks import of_config

    family = registry.build("family", OmegaConf.to_container(cfg.data, resolve=True), "data")
    seed, blocks = of_config(cfg)
    settings = OmegaConf.to_container(cfg.model, resolve=True)
    return get_object(settings.pop("_target_"))(
        family=family,
        members=cfg.ensemble.size,
        seed=seed,
        blocks=blocks,
        objective=OmegaConf.to_container(cfg.objective, resolve=True),
        **settings,
    )


def cluster_environment() -> list:
    """Where SLURM's srun is installed but this process was not started by it (a workstation or login node with
    SLURM's client), Lightning's own cluster detection warns on every run that srun is not used: there, the
    environment is Lightning's plain one, given to the Trainer, and the check fit makes for SLURM's own
    requeue (ckpt_path=None) is kept quiet (its module warns of nothing else). Elsewhere (a SLURM job,
    torchrun) Lightning detects it as usual."""
    import shutil

    if shutil.which("srun") is None or "SLURM_NTASKS" in os.environ:
        return []
    from lightning.fabric.plugins.environments import LightningEnvironment
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings(
        "ignore", category=PossibleUserWarning, module="lightning.fabric.plugins.environments.slurm"
    )
    return [LightningEnvironment()]


def train(cfg: DictConfig) -> dict:
    """Fit the GANs described by `cfg`, write metrics.json and samples.npy into cfg.run_dir, return the metrics.

    Raises ConfigError, before anything is written, if a value cannot work.
    """
    validate(cfg)
    OmegaConf.resolve(cfg)  # fixes the run dir, `${now:...}` and every interpolation for the whole run
    import_lightning()
    _quiet_lightning()
    run_dir = Path(cfg.run_dir)
    prepare(cfg, run_dir)
    datamodule, model, callbacks, trainer = build(cfg)
    return fit(cfg, run_dir, datamodule, model, callbacks, trainer, finish)


def prepare(cfg: DictConfig, run_dir: Path) -> None:
    """Before building: the run dir (without a finished run's files), the threads, malloc's thresholds, the global
    seed."""
    import lightning as L
    import torch

    from curvegan.preflight import resolve_ckpt_path

    run_dir.mkdir(parents=True, exist_ok=True)
    # Only a finished run has these: a resumed run must not look finished before it is.
    for stale in ("metrics.json", "samples.npy"):
        (run_dir / stale).unlink(missing_ok=True)
    if resolve_ckpt_path(cfg) is not None:  # a resumed run's checkpoint folder holds its checkpoints: as it should
        warnings.filterwarnings(
            "ignore", ".*exists and is not empty", module="lightning.pytorch.callbacks.model_checkpoint"
        )
    if threads := cpu_threads(cfg):
        torch.set_num_threads(threads)
    reuse_freed_memory()
    from curvegan.blocks import of_run

    L.seed_everything(of_run(cfg)[0][0], verbose=False)  # the first block's seed: each seeds its own weights


def fit(cfg: DictConfig, run_dir: Path, datamodule, model, callbacks: list, trainer, then):
    """Fit, then `then(cfg, model, trainer, callbacks, seconds)` (what the run leaves), with a signal's stop, a
    divergence and a full disk each turned into its one line."""
    from lightning.pytorch.utilities.exceptions import SIGTERMException

    from curvegan.callbacks import StopOnSignal
    from curvegan.divergence import Diverged
    from curvegan.preflight import resolve_ckpt_path

    collect_from_here()
    last = run_dir / "checkpoints" / "last.ckpt"
    stop = next((c for c in callbacks if isinstance(c, StopOnSignal)), None)
    model.started = time.perf_counter()
    try:
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=resolve_ckpt_path(cfg), weights_only=True)
        except SIGTERMException:  # Lightning saw the signal first (at an epoch's end): the same stop
            raise (stop and stop.stopped(model)) or Interrupted(signal.SIGTERM) from None
        if stop is not None and stop.stopped(model) is not None:  # a signal as fit ended: the run stops there
            raise stop.stopped(model)
        return then(cfg, model, trainer, callbacks, model.seconds())
    except Interrupted as stopped:
        if last.exists():
            stopped.resume = f"hydra.run.dir={run_dir} ckpt_path=last"
        raise
    except Diverged as err:
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written before it"
        raise TrainingFailed(f"{err}; {kept}") from None
    except OSError as err:
        if not disk_full(err):
            raise
        raise TrainingFailed(full_disk(run_dir, err.filename, last.exists())) from None


def _quiet_lightning() -> None:
    """Lightning's console messages, by the settings Python's logging and warnings offer (as Lightning's docs on
    console logging advise): its loggers at WARNING (its INFO lines, on devices, a tip to install its cloud logger
    and `fit` stopping, say nothing about a curvegan run); its own console handler removed, so that Hydra's
    logging prints each record once, to the console and train.log; and the FutureWarning torch raises about
    Lightning's pytree helper ignored in that module only."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning").handlers.clear()
    warnings.filterwarnings("ignore", category=FutureWarning, module="lightning.pytorch.utilities._pytree")


@hydra.main(version_base="1.3", config_path="pkg://curvegan.conf", config_name="train")
def main(cfg: DictConfig) -> float:
    """Train, and return the median member's objective (curves: shape_rmse + a_w1) for sweepers to minimise.

    A single run's config was already validated before Hydra made its run dir (config.RefuseBeforeRun); a
    sweep job is validated here, and a refused job's dir, which holds only what Hydra wrote, is removed."""
    try:
        return train(cfg)["objective"]
    except Interrupted as stop:  # its one line, and 128 + the signal: a scheduler sees a job stopped, not done
        print(f"curvegan: {stop}" + (f"; resume with {stop.resume}" if stop.resume else ""), file=sys.stderr)
        sys.exit(128 + stop.signum)
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


def interrupt(signum, frame) -> None:
    """A stop signal outside `fit` (while starting, or writing the results): stop now, with one line."""
    raise Interrupted(signum)


interrupt.curvegan_stop = True  # a handler of ours: the run's StopOnSignal takes its signals over during fit


def cli() -> None:
    """`python -m curvegan.train`: Hydra's main, with bad input reported as one line (full traces with
    HYDRA_FULL_ERROR=1, as in Hydra), and a stop by SIGTERM or Ctrl-C reported as one line with exit status
    128 + the signal's number, however it lands (during `fit` the run first writes its checkpoint)."""
    previous = {signum: signal.signal(signum, interrupt) for signum in stop_signals()}
    gc.disable()  # for the start-up: `collect_from_here` (before fit) turns collection back on
    try:
        register_schemas()  # imports Lightning: seconds in which a signal is a stop like any other
        run_main()
    except Interrupted as stop:
        print(f"curvegan: {stop}" + (f"; resume with {stop.resume}" if stop.resume else ""), file=sys.stderr)
        sys.exit(128 + stop.signum)
    finally:
        gc.enable()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_main() -> None:
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        main()
        return
    check_arguments("curvegan.train")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us instead of its multi-line report
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        print(f"curvegan.train: {one_line(err)}", file=sys.stderr)
        sys.exit(2)
    except OSError as err:  # a file or folder Hydra could not make
        print(f"curvegan.train: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        sys.exit(2)
    except ValueError as err:  # Hydra's own, for a group set to null on the command line
        if "Config group override" not in str(err):
            raise
        print(f"curvegan.train: {null_group()}", file=sys.stderr)
        sys.exit(2)
    except Exception as err:  # sbatch refusing the jobs of `hydra/launcher=slurm` (submitit's launcher)
        from curvegan.sweep_plugins import refused_by_slurm

        reason = refused_by_slurm(err)
        if reason is None:
            raise
        launcher = next((a for a in sys.argv[1:] if a.startswith("hydra/launcher=")), "hydra/launcher")
        print(f"curvegan.train: {launcher}: SLURM refused the sweep's jobs ({reason})", file=sys.stderr)
        sys.exit(2)


def null_group() -> str:
    """The command line's `GROUP=null` (Hydra refuses it with a ValueError that names no group), as a refusal."""
    from curvegan.config import options

    for arg in sys.argv[1:]:
        name, _, value = arg.lstrip("+").partition("=")
        if value in ("null", "None", "~") and "." not in name:
            try:
                return f"{name}={value}: must be one of the {name} group's options ({', '.join(options(name))})"
            except (FileNotFoundError, NotADirectoryError):
                continue
    return "a config group set to null: give one of its options"


if __name__ == "__main__":
    cli()
