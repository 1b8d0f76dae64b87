"""What a valid config is: a typed schema per config group, and a rule for every key.

The schemas are registered in Hydra's ConfigStore as `<group>/<name>_schema` and each YAML file of the group
starts from its schema, so a wrong type (`model.latent_dim=ten`) or a key that does not exist fails while
Hydra composes. `validate` then checks every key against its rule in RULES (types where no schema gives one,
ranges, lengths, finiteness), the relations between keys, whether the run fits in memory, and whether a
checkpoint to resume from was trained with the same settings. It runs before anything is created (through
`RefuseBeforeRun`, a Hydra callback) and raises ConfigError: one line naming the key, the value given and
what is allowed.
"""

from __future__ import annotations

import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra.errors import CompactHydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from curvegan import import_lightning


class ConfigError(CompactHydraException):
    """A config value that cannot work. Hydra prints it as its one-line message, with no traceback."""


@dataclass
class CurvesSchema:
    _target_: str = "curvegan.data.QuadraticCurves"
    num_points: int = 16
    batch_size: int = 32
    batches_per_epoch: int = 300
    batches_per_step: int = 25
    members: int = 1
    seed: int = 0


@dataclass
class DataSchema(CurvesSchema):
    """a ~ U(a_min, a_max)."""

    a_min: float = 1.0
    a_max: float = 2.0


@dataclass
class ModesSchema(CurvesSchema):
    """a from an equal-weight mixture of normals N(centre, mode_std²)."""

    modes: list[float] = field(default_factory=lambda: [1.0 + i / 7 for i in range(8)])
    mode_std: float = 0.01


@dataclass
class ModelSchema:
    _target_: str = "curvegan.gan.CurveGAN"
    members: int = 1
    latent_dim: int = 10
    latent: str = "normal"
    latent_modes: int = 8
    latent_spread: float = 0.02
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
    pack: int = 1
    preview_curves: int = 48
    log_every_n_updates: int = 50
    seed: int = 0


@dataclass
class ConditionalModelSchema(ModelSchema):
    _target_: str = "curvegan.variants.ConditionalCurveGAN"
    condition_range: list[float] = field(default_factory=lambda: [1.0, 2.0])


@dataclass
class InfoModelSchema(ModelSchema):
    _target_: str = "curvegan.variants.InfoCurveGAN"
    codes: int = 1
    categories: int = 0
    info_weight: float = 1.0


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


def a_range(data: DictConfig) -> list[float]:
    """`${a_range:${data}}`: the range of a that the data's family fills (for a conditional model's inputs)."""
    from curvegan.families import make_family

    family = make_family(data.get("a_min", 1.0), data.get("a_max", 2.0), data.get("modes"), data.get("mode_std"))
    return [round(v, 6) for v in family.band]


def register_schemas() -> None:
    for name, resolver in (("ensure_dir", ensure_dir), ("a_range", a_range)):
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, resolver)
    store = ConfigStore.instance()
    store.store(group="data", name="quadratic_schema", node=DataSchema)
    store.store(group="data", name="modes_schema", node=ModesSchema)
    store.store(group="model", name="mlp_schema", node=ModelSchema)
    store.store(group="model", name="cgan_schema", node=ConditionalModelSchema)
    store.store(group="model", name="infogan_schema", node=InfoModelSchema)
    store.store(group="trainer", name="trainer_schema", node=TrainerSchema)


# --- rules: each takes a value and returns None if it is allowed, or what is allowed ----------------------

Rule = Callable[[Any], str | None]
SEED_MAX = 2**32 - 1  # numpy's seeding, which Lightning's seed_everything uses, takes [0, 2³² − 1]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def whole(low: int = 1, high: int | None = None) -> Rule:
    allowed = f"a whole number ≥ {low}" if high is None else f"a whole number in [{low}, {high}]"
    return lambda v: None if _is_int(v) and v >= low and (high is None or v <= high) else allowed


def number(above: float | None = None, at_least: float | None = None, below: float | None = None) -> Rule:
    """A finite number, > above, ≥ at_least, < below (each bound optional)."""
    bounds = [f"> {above}" if above is not None else "", f"≥ {at_least}" if at_least is not None else ""]
    bounds.append(f"< {below}" if below is not None else "")
    allowed = " ".join(["a finite number", *[b for b in bounds if b]])

    def check(v):
        ok = _is_number(v) and math.isfinite(v)
        ok = ok and (above is None or v > above) and (at_least is None or v >= at_least)
        return None if ok and (below is None or v < below) else allowed

    return check


def choice(*options) -> Rule:
    return lambda v: None if v in options else f"one of {', '.join(map(str, options))}"


def optional(rule: Rule) -> Rule:
    return lambda v: None if v is None else (None if rule(v) is None else f"null or {rule(v)}")


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def text(v: Any) -> str | None:
    return None if isinstance(v, str) and v != "" else "a non-empty string"


def importable(v: Any) -> str | None:
    """A `_target_`: the dotted name of something Hydra can import."""
    from hydra._internal.utils import _locate

    try:
        _locate(v)
    except Exception:
        return "an importable class or function (a dotted path)"
    return None


def widths(v: Any) -> str | None:
    ok = isinstance(v, list | ListConfig) and all(_is_int(w) and w >= 1 for w in v)
    return None if ok else "a list of layer widths, each a whole number ≥ 1 (an empty list: no hidden layer)"


def betas(v: Any) -> str | None:
    ok = isinstance(v, list | ListConfig) and len(v) == 2 and all(_is_number(b) and 0 <= b < 1 for b in v)
    return None if ok else "two numbers in [0, 1)"


def ascending_pair(v: Any) -> str | None:
    ok = isinstance(v, list | ListConfig) and len(v) == 2 and all(_is_number(b) and math.isfinite(b) for b in v)
    return None if ok and v[0] < v[1] else "two finite numbers, the first the smaller"


def centres(v: Any) -> str | None:
    ok = isinstance(v, list | ListConfig) and len(v) >= 1 and all(_is_number(c) and math.isfinite(c) for c in v)
    return None if ok else "a list of one or more finite numbers (the centres of the modes of a)"


def devices(v: Any) -> str | None:
    if v == "auto" or (_is_int(v) and v >= 1):
        return None
    if isinstance(v, list | ListConfig) and v and all(_is_int(d) and d >= 0 for d in v):
        return None
    return "a whole number ≥ 1, a list of device indices, or auto"


def limit(v: Any) -> str | None:
    if v is None or (_is_int(v) and v >= 1) or (isinstance(v, float) and 0 < v <= 1):
        return None
    return "null, a whole number of batches ≥ 1, or a fraction in (0, 1]"


PRECISIONS = ("32-true", "32", 32, "64-true", "64", 64, "bf16-mixed", "bf16-true", "16-mixed", "16-true")
ACCELERATORS = ("cpu", "gpu", "cuda", "mps", "auto")
SEED = whole(0, SEED_MAX)

RULES: dict[str, Rule] = {
    "seed": SEED,
    "ensemble.size": whole(1),
    "run_dir": text,
    "cpu_threads": lambda v: None if v in (None, "auto") or whole(1)(v) is None else "auto, null or a whole number ≥ 1",
    "ckpt_path": optional(text),
    "evaluation.num_samples": whole(2),  # a spread (a_std) needs two curves
    "evaluation.seed": SEED,
    # data
    "data._target_": importable,
    "data.a_min": number(),
    "data.a_max": number(),
    "data.num_points": whole(3),  # a parabola needs 3 points
    "data.batch_size": whole(1),
    "data.batches_per_epoch": whole(1),
    "data.batches_per_step": whole(1),
    "data.members": whole(1),
    "data.modes": centres,
    "data.mode_std": number(above=0),
    "data.seed": SEED,
    # model
    "model._target_": importable,
    "model.members": whole(1),
    "model.latent_dim": whole(1),
    "model.latent": choice("normal", "uniform", "mixture"),
    "model.latent_modes": whole(2),
    "model.latent_spread": number(above=0),
    "model.num_points": whole(3),
    "model.g_hidden": widths,
    "model.d_hidden": widths,
    "model.d_steps": whole(1),
    "model.g_lr": number(above=0),
    "model.d_lr": number(above=0),
    "model.betas": betas,
    "model.grad_clip": optional(number(above=0)),
    "model.lr_decay": boolean,
    "model.g_ema": optional(number(above=0, below=1)),
    "model.pack": whole(1),
    "model.preview_curves": whole(1),
    "model.log_every_n_updates": whole(1),
    "model.seed": SEED,
    "model.condition_range": ascending_pair,
    "model.codes": whole(0),
    "model.categories": lambda v: None if v == 0 or whole(2)(v) is None else "0 (none) or a whole number ≥ 2",
    "model.info_weight": number(at_least=0),
    # trainer
    "trainer._target_": importable,
    "trainer.accelerator": choice(*ACCELERATORS),
    "trainer.devices": devices,
    "trainer.max_epochs": whole(1),
    "trainer.log_every_n_steps": whole(1),
    "trainer.default_root_dir": optional(text),
    "trainer.enable_model_summary": boolean,
    "trainer.strategy": choice("auto", "ddp", "ddp_spawn", "ddp_find_unused_parameters_true", "single_device"),
    "trainer.enable_checkpointing": boolean,
    "trainer.enable_progress_bar": boolean,
    "trainer.precision": optional(choice(*PRECISIONS)),
    "trainer.deterministic": optional(choice(True, False, "warn")),
    "trainer.num_nodes": whole(1),
    "trainer.max_steps": whole(-1),
    "trainer.limit_train_batches": limit,
    "trainer.profiler": optional(choice("simple", "advanced", "pytorch")),
    # callbacks
    "callbacks.checkpoint._target_": importable,
    "callbacks.checkpoint.dirpath": text,
    "callbacks.checkpoint.filename": text,
    "callbacks.checkpoint.auto_insert_metric_name": boolean,
    "callbacks.checkpoint.every_n_epochs": whole(1),
    "callbacks.checkpoint.save_top_k": whole(-1),
    "callbacks.checkpoint.save_last": boolean,
    "callbacks.curves._target_": importable,
    "callbacks.curves.every_n_epochs": whole(1),
    "callbacks.curves.num_samples": whole(2),
    "callbacks.curves.seed": SEED,
    "callbacks.curves.gif_path": optional(text),
    "callbacks.curves.gif_frame_ms": whole(1),
    "callbacks.curves.members_shown": whole(1, 16),
    "callbacks.progress_bar._target_": importable,
    "callbacks.progress_bar.refresh_rate": whole(0),
    "callbacks.stop_on_signal._target_": importable,
    "callbacks.stop_on_signal.ckpt_path": text,
    # loggers
    **{f"logger.{name}._target_": importable for name in ("tensorboard", "csv", "mlflow", "wandb")},
    **{f"logger.{name}.save_dir": text for name in ("tensorboard", "csv", "wandb")},
    **{f"logger.{name}.name": text for name in ("tensorboard", "csv")},
    **{
        f"logger.{name}.version": optional(lambda v: None if isinstance(v, str | int) else "a string")
        for name in ("tensorboard", "csv")
    },
    "logger.tensorboard.default_hp_metric": boolean,
    "logger.mlflow.experiment_name": text,
    "logger.mlflow.tracking_uri": text,
    "logger.mlflow.run_name": optional(text),
    "logger.wandb.project": text,
    "logger.wandb.offline": boolean,
    "logger.wandb.name": optional(text),
}
# Keys whose value must be the same as another's (they are interpolations of it in the shipped configs).
SAME_AS = {
    "data.members": "ensemble.size",
    "model.members": "ensemble.size",
    "model.num_points": "data.num_points",
}


def leaves(node: DictConfig, prefix: str = ""):
    """(dotted key, value) of every leaf of a config, lists being leaves."""
    for key in node:
        try:
            value = node[key]
        except OmegaConfBaseException as err:  # an interpolation of a value of the wrong type
            reason = str(err).splitlines()[0]
            raise ConfigError(f"{prefix}{key}: {reason}") from None
        if isinstance(value, DictConfig):
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", OmegaConf.to_object(value) if isinstance(value, ListConfig) else value


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value}: must be {allowed}")


def validate(cfg: DictConfig) -> None:
    """Refuse a config that cannot train, naming the first key found. Imports torch only to look for a GPU or
    to read a checkpoint to resume from."""
    from curvegan.objectives import make_objective

    targets = []
    for key, value in leaves(cfg):
        if key.split(".")[0] == "objective" or key.startswith("model.objective"):
            continue  # the objective's own keys are checked by make_objective below
        rule = RULES.get(key)
        if rule is None:
            raise ConfigError(f"{key}={value}: not a key curvegan knows (a typo, or a key of another group?)")
        if rule is importable:
            targets.append((key, value))  # last: importing them takes seconds, the other checks milliseconds
            continue
        allowed = rule(value)
        _check(allowed is None, key, value, allowed)
    for key, other in SAME_AS.items():
        if OmegaConf.select(cfg, key) is not None:
            value, expected = OmegaConf.select(cfg, key), OmegaConf.select(cfg, other)
            _check(value == expected, key, value, f"the same as {other} ({expected}), as the configs set it")

    data, model, trainer = cfg.data, cfg.model, cfg.trainer
    _check(
        data.batch_size % model.pack == 0,
        "data.batch_size",
        data.batch_size,
        f"a multiple of model.pack ({model.pack}): D scores the batch in packs of that many curves",
    )
    if "codes" in model:
        _check(model.codes + model.categories >= 1, "model.codes", model.codes, "≥ 1 when model.categories is 0")
    if "a_min" in data:
        _check(data.a_min < data.a_max, "data.a_min", data.a_min, f"less than data.a_max ({data.a_max})")
    _check(
        isinstance(model.objective, DictConfig) and "name" in model.objective,
        "model.objective",
        model.objective,
        "an objective's settings, with its name (choose one with objective=NAME)",
    )
    try:
        make_objective(**model.objective)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None

    import_lightning()  # what the targets import
    for key, value in targets:
        _check(importable(value) is None, key, value, importable(value))

    accelerator = trainer.accelerator
    if accelerator in ("gpu", "cuda"):
        import torch

        _check(torch.cuda.is_available(), "trainer.accelerator", accelerator, "cpu here: torch sees no CUDA GPU")
    if str(trainer.strategy).startswith("ddp"):
        _check(
            cfg.ensemble.size == 1,
            "trainer.strategy",
            trainer.strategy,
            f"auto with ensemble.size={cfg.ensemble.size}: an ensemble trains in one process (DDP would copy"
            " every member to every device)",
        )
        if _in_multirun():
            raise ConfigError(
                f"trainer.strategy={trainer.strategy}: not in a sweep (-m): Lightning would relaunch the whole"
                " sweep for each device; sweep with single-device trainers, or run DDP jobs one at a time"
            )
    if trainer.precision in ("16-mixed", "16") and model.grad_clip is not None:
        raise ConfigError(
            f"trainer.precision={trainer.precision}: not with model.grad_clip: the gradients are clipped before"
            " 16-bit loss scaling is undone; use bf16-mixed or 32-true"
        )

    check_memory(cfg)
    if cfg.ckpt_path is not None:
        path = resolve_ckpt_path(cfg)
        _check(Path(path).is_file(), "ckpt_path", cfg.ckpt_path, f"an existing checkpoint file ({path} is not one)")
        check_resumable(cfg, path)


def check_run_dir(run_dir: str) -> None:
    """Refuse a run dir that cannot be created or written, before Hydra creates it: its nearest existing
    folder must take a new folder (tried, and removed again: nothing is left)."""
    path = Path(run_dir).absolute()
    existing = next(p for p in [path, *path.parents] if p.exists())
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".curvegan-", dir=existing))
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise ConfigError(f"hydra.run.dir={run_dir}: cannot be created ({existing}: {reason})") from None


class RefuseBeforeRun(Callback):
    """Hydra callback: validate a single run's config before Hydra creates its run dir, so a refused run leaves
    nothing behind. (A sweep's jobs are validated as each starts; `curvegan.train.main` removes the job dir of
    a refused one.)

    Hydra turns a callback's exception into a warning and carries on, so a refusal prints its one line here
    and exits with status 2, as every refusal of `python -m curvegan.train` does."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.hydra_config import HydraConfig

        try:
            HydraConfig.instance().set_config(config)  # for `${hydra:...}` in loggers' settings; Hydra sets it again
            run_dir = str(config.hydra.run.dir)
            check_run_dir(run_dir)
            task = OmegaConf.masked_copy(config, [k for k in config if k != "hydra"])
            if OmegaConf.is_interpolation(task, "run_dir"):
                task.run_dir = run_dir  # what ${hydra:runtime.output_dir} will be; Hydra has not set it yet
            validate(task)
        except ConfigError as err:
            print(f"curvegan.train: {err}", file=sys.stderr)
            raise SystemExit(2) from None


# --- memory ---------------------------------------------------------------------------------------------


def memory_estimate(cfg: DictConfig) -> dict[str, tuple[str, float]]:
    """Bytes a run needs at its peak, by part: {part: (the key that sizes it most, bytes)}."""
    k, data, model = cfg.ensemble.size, cfg.data, cfg.model
    points, batch = data.num_points, data.batch_size
    inputs = model.latent_dim + 4  # a variant's extra inputs (condition, codes) are a few more
    g_sizes = [inputs, *model.g_hidden, points]
    d_sizes = [points + 4, *model.d_hidden, 1 + 4]
    weights = sum(i * o + o for sizes in (g_sizes, d_sizes) for i, o in zip(sizes, sizes[1:], strict=False))
    # weights, gradients, two Adam moments, the per-step snapshot, the moving average
    state = 4 * k * weights * 6
    # each update keeps the activations of G, and of D on real, fake and (WGAN-GP) mixed curves, for backward
    activations = 4 * k * batch * (sum(g_sizes) + 3 * sum(d_sizes)) * 3
    step_data = 4 * k * data.batches_per_step * batch * (points + 1) * 2
    widest = max([*model.g_hidden, *model.d_hidden, points])
    n = cfg.evaluation.num_samples
    evaluation = 4 * max(2**23, n * widest) * 8 + 4 * k * n  # a run of members' curves, and per-member results
    key = "ensemble.size" if k > 1 else "data.batch_size"
    return {
        "weights and optimizer state": (key, state),
        "activations": (key, activations),
        "real curves": ("data.batches_per_step" if k == 1 else key, step_data),
        "evaluation": ("evaluation.num_samples", evaluation),
    }


def available_memory() -> int:
    """Bytes of RAM available now (MemAvailable), or the machine's total where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


BASELINE = 500 * 2**20  # torch, Lightning and Hydra themselves: a default run's peak RSS here is 464 MB


def gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB"


def check_memory(cfg: DictConfig) -> None:
    """Refuse a run whose memory (or samples.npy on disk) would not fit, naming the key that sizes it."""
    parts = memory_estimate(cfg)
    total = BASELINE + sum(b for _, b in parts.values())
    have = available_memory()
    if total > have:
        part, (key, _) = max(parts.items(), key=lambda item: item[1][1])
        value = OmegaConf.select(cfg, key)
        raise ConfigError(
            f"{key}={value}: needs about {gb(total)} of memory (mostly {part}), this machine has {gb(have)} available"
        )
    samples = 4 * cfg.ensemble.size * cfg.evaluation.num_samples * cfg.data.num_points
    path = Path(cfg.run_dir).absolute()
    existing = next(p for p in [path, *path.parents] if p.exists())
    free = shutil.disk_usage(existing).free
    if samples > free:
        raise ConfigError(
            f"evaluation.num_samples={cfg.evaluation.num_samples}: samples.npy would take {gb(samples)} for"
            f" {cfg.ensemble.size} members; the disk under {existing} has {gb(free)} free"
        )


# --- resuming -------------------------------------------------------------------------------------------

NOT_COMPARED = {"log_every_n_updates"}  # settings a resumed run may change without changing its training


def check_resumable(cfg: DictConfig, path: str) -> None:
    """Refuse a checkpoint that was trained with other model or data settings, naming every key that differs.

    A key the config leaves out takes its class's default, as instantiating the config would."""
    import inspect

    import torch
    from hydra._internal.utils import _locate

    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        trained = {"model": ckpt["hyper_parameters"], "data": ckpt["datamodule_hyper_parameters"]}
    except Exception as err:
        reason = type(err).__name__
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: not a readable curvegan checkpoint ({reason})") from None
    differences = []
    for group, settings in trained.items():
        wanted = OmegaConf.to_container(cfg[group], resolve=True)
        defaults = {}  # every keyword the class takes, its own or its bases', with its default
        for cls in reversed(_locate(wanted.pop("_target_")).__mro__):
            if "__init__" in cls.__dict__:
                parameters = inspect.signature(cls.__dict__["__init__"]).parameters.values()
                defaults |= {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}
        for key in sorted(set(settings) | set(wanted)):
            if key in NOT_COMPARED:
                continue
            had = settings.get(key, "(none)")
            has = wanted[key] if key in wanted else defaults.get(key, "(none)")
            if _plain(had) != _plain(has):
                differences.append(f"{group}.{key}={_show(had)}, this config has {_show(has)}")
    if differences:
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: trained with " + "; ".join(differences))


def _plain(value: Any) -> Any:
    """A setting as compared: tuples as lists, numbers as floats."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if _is_number(value):
        return float(value)
    return value


def _show(value: Any) -> str:
    return str(list(value) if isinstance(value, tuple) else value).replace(" ", "")


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """`last` means this run dir's own checkpoints/last.ckpt."""
    if cfg.ckpt_path == "last":
        return str(Path(cfg.run_dir) / "checkpoints" / "last.ckpt")
    return cfg.ckpt_path
