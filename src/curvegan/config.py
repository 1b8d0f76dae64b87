"""What a valid config is: a typed schema per config group, and the value checks types cannot express.

The schemas are registered in Hydra's ConfigStore as `<group>/<name>_schema` and each YAML file of the group
starts from its schema, so a wrong type (`model.latent_dim=ten`) or a key that does not exist fails while
Hydra composes. `validate` then checks ranges and relations before anything is trained or written, and
raises ConfigError: one line naming the key, the value given and what is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import CompactHydraException
from omegaconf import OmegaConf


class ConfigError(CompactHydraException):
    """A config value that cannot work. Hydra prints it as its one-line message, with no traceback."""


@dataclass
class DataSchema:
    _target_: str = "curvegan.data.QuadraticCurves"
    a_min: float = 1.0
    a_max: float = 2.0
    num_points: int = 16
    batch_size: int = 32
    batches_per_epoch: int = 300
    batches_per_step: int = 25
    seed: int = 0


@dataclass
class ModelSchema:
    _target_: str = "curvegan.gan.CurveGAN"
    latent_dim: int = 10
    latent: str = "normal"
    num_points: int = 16
    g_hidden: list[int] = field(default_factory=lambda: [32])
    d_hidden: list[int] = field(default_factory=lambda: [32])
    d_steps: int = 1
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])
    grad_clip: float | None = None
    lr_decay: bool = False
    g_ema: float | None = None
    objective: Any = None
    preview_curves: int = 48
    log_every_n_updates: int = 50
    seed: int = 0


@dataclass
class TrainerSchema:
    _target_: str = "lightning.pytorch.Trainer"
    accelerator: str = "cpu"
    devices: Any = 1
    max_epochs: int = 20
    log_every_n_steps: int = 1
    default_root_dir: str | None = None
    enable_model_summary: bool = False
    strategy: str = "auto"
    # More Lightning Trainer arguments, at Lightning's own defaults, so they can be overridden by name.
    enable_checkpointing: bool = True
    enable_progress_bar: bool = True
    precision: Any = None
    deterministic: Any = None
    num_nodes: int = 1
    max_steps: int = -1
    limit_train_batches: Any = None
    profiler: Any = None


def ensure_dir(path: str) -> str:
    """`${ensure_dir:PATH}`: PATH, created if missing (Optuna's sqlite file needs its folder first)."""
    Path(path).mkdir(parents=True, exist_ok=True)
    return path


def register_schemas() -> None:
    if not OmegaConf.has_resolver("ensure_dir"):
        OmegaConf.register_new_resolver("ensure_dir", ensure_dir)
    store = ConfigStore.instance()
    store.store(group="data", name="quadratic_schema", node=DataSchema)
    store.store(group="model", name="mlp_schema", node=ModelSchema)
    store.store(group="trainer", name="trainer_schema", node=TrainerSchema)


ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value}: must be {allowed}")


def _positive_int(cfg, key: str) -> None:
    value = _get(cfg, key)
    _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1, key, value, "a whole number ≥ 1")


def _get(cfg, key: str) -> Any:
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def validate(cfg) -> None:
    """Refuse values that cannot train, naming the first one found. Cheap: imports torch only to look for a GPU."""
    data, model, trainer = cfg.data, cfg.model, cfg.trainer
    for key in (
        "data.batch_size",
        "data.batches_per_epoch",
        "data.batches_per_step",
        "model.latent_dim",
        "model.d_steps",
        "model.preview_curves",
        "model.log_every_n_updates",
        "trainer.max_epochs",
        "evaluation.num_samples",
    ):
        _positive_int(cfg, key)
    _check(data.num_points >= 3, "data.num_points", data.num_points, "a whole number ≥ 3 (a parabola needs 3 points)")
    _check(data.a_min < data.a_max, "data.a_min", data.a_min, f"less than data.a_max ({data.a_max})")
    for key in ("model.g_hidden", "model.d_hidden"):
        widths = list(_get(cfg, key))
        _check(all(w >= 1 for w in widths), key, widths, "a list of layer widths, each ≥ 1")
    for key in ("model.g_lr", "model.d_lr"):
        _check(_get(cfg, key) > 0, key, _get(cfg, key), "a learning rate > 0")
    betas = list(model.betas)
    _check(len(betas) == 2 and all(0 <= b < 1 for b in betas), "model.betas", betas, "two numbers in [0, 1)")
    _check(model.latent in ("normal", "uniform"), "model.latent", model.latent, "normal or uniform")
    _check(model.g_ema is None or 0 < model.g_ema < 1, "model.g_ema", model.g_ema, "null or a decay in (0, 1)")
    _check(model.grad_clip is None or model.grad_clip > 0, "model.grad_clip", model.grad_clip, "null or a norm > 0")
    _check(cfg.cpu_threads is None or cfg.cpu_threads >= 1, "cpu_threads", cfg.cpu_threads, "null or ≥ 1")

    from curvegan.objectives import make_objective

    try:
        make_objective(**model.objective)
    except ValueError as err:
        raise ConfigError(str(err)) from None

    accelerator = trainer.accelerator
    _check(accelerator in ACCELERATORS, "trainer.accelerator", accelerator, f"one of {', '.join(ACCELERATORS)}")
    if accelerator in ("gpu", "cuda"):
        import torch

        _check(torch.cuda.is_available(), "trainer.accelerator", accelerator, "cpu here: torch sees no CUDA GPU")

    if str(trainer.strategy).startswith("ddp") and _in_multirun():
        raise ConfigError(
            f"trainer.strategy={trainer.strategy}: not in a sweep (-m): Lightning would relaunch the whole sweep "
            "for each device; sweep with single-device trainers, or run DDP jobs one at a time"
        )

    if cfg.ckpt_path is not None:
        path = resolve_ckpt_path(cfg)
        _check(Path(path).is_file(), "ckpt_path", cfg.ckpt_path, f"an existing checkpoint file ({path} is not one)")


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def resolve_ckpt_path(cfg) -> str | None:
    """`last` means this run dir's own checkpoints/last.ckpt."""
    if cfg.ckpt_path == "last":
        return str(Path(cfg.run_dir) / "checkpoints" / "last.ckpt")
    return cfg.ckpt_path
