"""Lightning's classes, as curvegan configures them: the keys curvegan allows for the Trainer and the loggers
(whose code is not ours), each declared as curvegan's own keys are (curvegan.keys), so that validation, Hydra's
schemas and docs/config.md treat them alike. A key a user may set at Lightning's default states that default."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import os
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from curvegan.errors import ConfigError, refuse
from curvegan.keys import BOOLEAN, TEXT, Rule, choice, key, optional, whole

PRECISIONS = ("32-true", "32", 32, "64-true", "64", 64, "bf16-mixed", "bf16-true", "16-mixed", "16-true")
STRATEGIES = ("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "single_device")
LIMIT = Rule(
    lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v >= 1) or 0 < v <= 1,
    "null, a whole number of batches ≥ 1, or a fraction in (0, 1]",
    1.5,
)
DEVICES = Rule(
    lambda v: (
        v == "auto"
        or (isinstance(v, int) and not isinstance(v, bool) and v >= 1)
        or (isinstance(v, list | ListConfig) and len(v) > 0 and all(isinstance(d, int) and d >= 0 for d in v))
    ),
    "a whole number ≥ 1, a list of device indices, or auto",
    0,
)


# The Trainer's arguments curvegan sets, at curvegan's own defaults.
OWN = {
    "accelerator": (lambda: key("cpu", choice("cpu", "gpu", "cuda", "mps", "auto"), "cpu or gpu (trainer=gpu)")),
    "devices": (lambda: key(1, DEVICES, "devices for one run (several: trainer=ddp)")),
    "max_epochs": (lambda: key(20, whole(1), "epochs of data.batches_per_epoch G updates")),
    "log_every_n_steps": (
        lambda: key(1, whole(1), "Lightning's, for self.log; 2_train/* follows model.log_every_n_updates")
    ),
    "enable_model_summary": (lambda: key(False, BOOLEAN, "Lightning's table of the model's layers")),
}
# Lightning's arguments a user may set: their rule and help. Their defaults are Lightning's own, read from its
# signature (`trainer_keys`), never declared again here.
PASSED = {
    "strategy": (choice(*STRATEGIES), "auto; ddp for several devices (trainer=ddp)"),
    "default_root_dir": (optional(TEXT), "Lightning's root dir (the run dir)"),
    "enable_checkpointing": (optional(BOOLEAN), "null (Lightning's default) or true: checkpoints; false: none"),
    "enable_progress_bar": (optional(BOOLEAN), "null or true: a progress bar or per-epoch line; false: neither"),
    "precision": (optional(choice(*PRECISIONS)), "null (32-bit) or a Lightning precision"),
    "deterministic": (optional(choice(True, False, "warn")), "torch's deterministic algorithms"),
    "num_nodes": (whole(1), "machines for one DDP run"),
    "max_steps": (whole(-1), "stop after this many optimizer steps (1 + d_steps per G update); -1: no limit"),
    "limit_train_batches": (LIMIT, "train on this many training_step calls per epoch (or a fraction)"),
    "profiler": (optional(choice("simple", "advanced", "pytorch")), "Lightning's profiler"),
}


@functools.cache
def trainer_keys() -> type:
    """lightning.pytorch.Trainer's keys: the arguments curvegan sets (`OWN`) and Lightning's own that a user may
    set (`PASSED`), at the defaults Lightning's signature gives them. It imports Lightning: called after
    curvegan.import_lightning, by the schemas and the validation."""
    from lightning.pytorch import Trainer

    signature = inspect.signature(Trainer).parameters
    fields = [(name, Any, make()) for name, make in OWN.items()]
    fields += [(name, Any, key(signature[name].default, rule, help)) for name, (rule, help) in PASSED.items()]
    doc = "lightning.pytorch.Trainer: the arguments curvegan sets, and Lightning's own at its defaults."
    return dataclasses.make_dataclass("TrainerKeys", fields, namespace={"__doc__": doc})


@dataclass
class TensorBoardKeys:
    save_dir: str = key("${run_dir}", TEXT, "the folder of the event files' folder")
    name: str = key("tensorboard", TEXT, "the folder of the event files, under save_dir")
    version: Any = key("", optional(Rule(lambda v: isinstance(v, str | int), "a string", [1])), "a sub-folder")
    default_hp_metric: bool = key(False, BOOLEAN, "Lightning's hp_metric placeholder")


@dataclass
class CSVKeys:
    save_dir: str = key("${run_dir}", TEXT, "the folder of metrics.csv's folder")
    name: str = key("csv", TEXT, "the folder of metrics.csv, under save_dir")
    version: Any = key("", optional(Rule(lambda v: isinstance(v, str | int), "a string", [1])), "a sub-folder")


@dataclass
class MLFlowKeys:
    experiment_name: str = key("curvegan", TEXT, "the MLflow experiment")
    tracking_uri: str = key("sqlite:///${hydra:runtime.cwd}/mlflow.db", TEXT, "the store: a local sqlite file")
    run_name: Any = key("${hydra:job.override_dirname}", optional(TEXT), "the run's name: its overrides")


@dataclass
class WandbKeys:
    project: str = key("curvegan", TEXT, "the W&B project")
    name: Any = key("${hydra:job.override_dirname}", optional(TEXT), "the run's name: its overrides")
    save_dir: str = key("${run_dir}", TEXT, "where the offline run is kept (RUN/wandb/)")
    offline: bool = key(True, BOOLEAN, "offline: upload later with wandb sync")


def external() -> dict[str, type]:
    """Lightning's classes, by their path: the keys curvegan declares for them."""
    return {
        "lightning.pytorch.Trainer": trainer_keys(),
        "lightning.pytorch.loggers.TensorBoardLogger": TensorBoardKeys,
        "lightning.pytorch.loggers.CSVLogger": CSVKeys,
        "lightning.pytorch.loggers.MLFlowLogger": MLFlowKeys,
        "lightning.pytorch.loggers.WandbLogger": WandbKeys,
    }


def __getattr__(name: str):
    """`TrainerKeys` and `EXTERNAL`, made when first asked for (they import Lightning)."""
    if name == "TrainerKeys":
        return trainer_keys()
    if name == "EXTERNAL":
        return external()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_trainer(cfg: DictConfig) -> None:
    """The trainer's relations to the rest of the run: a device to train on; several devices or machines only with
    DDP, and DDP only for one GAN, not in a sweep; at least one training_step per epoch."""
    import torch

    trainer = cfg.trainer
    if trainer.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise refuse("trainer.accelerator", trainer.accelerator, "cpu here: torch sees no CUDA GPU")
    if trainer.accelerator == "mps" and not torch.backends.mps.is_available():
        raise refuse("trainer.accelerator", trainer.accelerator, "cpu here: torch sees no Apple GPU")
    ddp = str(trainer.strategy).startswith("ddp")
    devices = trainer.devices
    if isinstance(devices, ListConfig) and trainer.accelerator not in ("gpu", "cuda"):
        raise refuse(
            "trainer.devices", OmegaConf.to_container(devices), "a number of devices on the CPU (a list names GPUs)"
        )
    count = len(devices) if isinstance(devices, ListConfig) else devices
    if count not in (1, "auto") and not ddp:
        raise refuse("trainer.devices", devices, "1 without DDP (several devices for one run: trainer=ddp)")
    if trainer.num_nodes > 1 and not (ddp and ("SLURM_NTASKS" in os.environ or "LOCAL_RANK" in os.environ)):
        raise refuse(
            "trainer.num_nodes",
            trainer.num_nodes,
            "1 here: several machines need DDP and a launcher that starts a process on each (SLURM's srun, torchrun)",
        )
    limit = trainer.limit_train_batches
    steps = -(-cfg.data.batches_per_epoch // cfg.data.batches_per_step)
    if isinstance(limit, float) and limit < 1 and limit * steps < 1:
        raise refuse(
            "trainer.limit_train_batches",
            limit,
            f"a fraction ≥ {1 / steps:.3g}: an epoch here has {steps} training_step calls, and needs at least one",
        )
    if ddp:
        if cfg.ensemble.size != 1:
            raise refuse(
                "trainer.strategy",
                trainer.strategy,
                f"auto with ensemble.size={cfg.ensemble.size}: an ensemble trains in one process (DDP would copy"
                " every member to every device)",
            )
        if cfg.model.get("simultaneous"):
            raise refuse(
                "model.simultaneous",
                "true",
                f"false with trainer.strategy={trainer.strategy}: its updates take each network's gradient from its"
                " own loss alone, a backward DDP's gradient sync refuses; train it on one device",
            )
        if _in_multirun():
            raise ConfigError(
                f"trainer.strategy={trainer.strategy}: not in a sweep (-m): Lightning would relaunch the whole"
                " sweep for each device; sweep with single-device trainers, or run DDP jobs one at a time"
            )


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
