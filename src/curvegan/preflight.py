"""Before a run starts: will it fit (memory, disk), can its run dir be made and is it free, and, when resuming,
was the checkpoint trained with these settings. Each refusal is a ConfigError naming the key the user gave."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from curvegan.errors import ConfigError, given_keys, refuse

# What a run writes into its run dir (besides Hydra's .hydra/ and the log): a dir holding any of these holds a run.
RUN_OUTPUTS = ("checkpoints", "metrics.json", "samples.npy", "tensorboard", "csv", "wandb", "progress.gif", "frames")


def check(cfg: DictConfig, in_group: bool = False) -> None:
    """`in_group`: the config is a packed sweep's job, whose run dir its group checks (curvegan.packed.may_train)."""
    check_memory(cfg)
    check_run_dir_is_free(cfg, in_group)
    check_outputs(cfg)
    path = resolve_ckpt_path(cfg)
    if path is not None:
        if not Path(path).is_file():
            raise refuse("ckpt_path", cfg.ckpt_path, f"an existing checkpoint file ({path} is not one)")
        check_resumable(cfg, path)


# --- the run dir ---------------------------------------------------------------------------------------


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


def held_outputs(run_dir: str | Path) -> list[str]:
    """What a run wrote that the run dir holds (RUN_OUTPUTS): none for a free run dir."""
    return sorted(name for name in RUN_OUTPUTS if (Path(run_dir) / name).exists())


def check_run_dir_is_free(cfg: DictConfig, in_group: bool = False) -> None:
    """A new run needs a run dir with no run in it; a resumed one, its own (or a free one): never two mixed. A
    packed sweep's job with ckpt_path=auto (`in_group`) is left to its group: what its dir holds was written by
    the group's earlier start, which resumes from the group's checkpoint, not the job's (curvegan.packed.may_train
    refuses the job where the group has none)."""
    run_dir = Path(cfg.run_dir)
    held = held_outputs(run_dir)
    if not held or (in_group and cfg.ckpt_path == "auto"):
        return
    if resolve_ckpt_path(cfg) is None:
        raise ConfigError(
            f"hydra.run.dir={cfg.run_dir}: already holds a run ({', '.join(held)}); resume it with ckpt_path=last,"
            " or give another run dir"
        )
    ckpt = Path(resolve_ckpt_path(cfg)).absolute()
    if run_dir.absolute() not in ckpt.parents:
        raise ConfigError(
            f"ckpt_path={cfg.ckpt_path}: resumes into hydra.run.dir={cfg.run_dir}, which holds another run"
            f" ({', '.join(held)}); resume into the checkpoint's own run dir, or a free one"
        )


# Where a run writes besides its run dir: each key's folder must exist or be creatable before the run starts.
OUTPUT_FOLDERS = (
    "callbacks.checkpoint.dirpath",
    "logger.tensorboard.save_dir",
    "logger.csv.save_dir",
    "logger.wandb.save_dir",
)
OUTPUT_FILES = ("callbacks.monitor.gif_path", "callbacks.stop_on_signal.ckpt_path")


def check_outputs(cfg: DictConfig) -> None:
    """Refuse an output path whose folder cannot be created (tried at its nearest existing folder, and removed
    again: nothing is left), naming its key."""
    paths = [(k, OmegaConf.select(cfg, k)) for k in OUTPUT_FOLDERS]
    paths += [
        (k, None if OmegaConf.select(cfg, k) is None else str(Path(OmegaConf.select(cfg, k)).parent))
        for k in OUTPUT_FILES
    ]
    for key, folder in paths:
        if folder is None:
            continue
        path = Path(folder).absolute()
        existing = next(p for p in [path, *path.parents] if p.exists())
        try:
            if not existing.is_dir():
                raise NotADirectoryError(20, "not a folder")
            os.rmdir(tempfile.mkdtemp(prefix=".curvegan-", dir=existing))
        except OSError as err:
            shown = OmegaConf.select(cfg, key)
            raise ConfigError(f"{key}={shown}: cannot be written ({existing}: {err.strerror or err})") from None


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """The checkpoint to resume from: `last` means this run dir's own checkpoints/last.ckpt; `auto` the same if
    it exists (a job a cluster requeued after a stop), else none (the job's first start)."""
    own = Path(cfg.run_dir) / "checkpoints" / "last.ckpt"
    if cfg.ckpt_path == "last" or (cfg.ckpt_path == "auto" and own.is_file()):
        return str(own)
    return None if cfg.ckpt_path == "auto" else cfg.ckpt_path


# --- memory and disk -----------------------------------------------------------------------------------


def memory_estimate(cfg: DictConfig) -> dict[str, tuple[list[str], float]]:
    """Bytes a run needs at its peak, by part: {part: (the keys that size it, bytes)}."""
    from curvegan.registry import build

    family = build("family", OmegaConf.to_container(cfg.data, resolve=True), "data")
    k, data, model = cfg.ensemble.size, cfg.data, cfg.model
    dim, batch = family.dim, data.batch_size
    inputs = model.latent_dim + 4  # a variant's extra inputs (condition, codes) are a few more
    g_weights, g_units, g_widest = network_size(model.generator, inputs, dim)
    d_weights, d_units, d_widest = network_size(model.discriminator, (dim + 4) * model.pack, 1 + 4)
    state = 4 * k * (g_weights + d_weights) * 6  # weights, gradients, two Adam moments, the step's snapshot, the EMA
    # each update keeps the activations of G, and of D on real, fake and (WGAN-GP) mixed samples, for backward
    activations = 4 * k * batch * (g_units + 3 * d_units) * 3
    step_data = 4 * k * data.batches_per_step * batch * (dim + 1) * 2
    widest = max(g_widest, d_widest, dim)
    n = cfg.evaluation.num_samples
    evaluation = 4 * max(2**23, n * widest) * 8 + 4 * k * n  # a run of members' samples, and per-member results
    parts = {}
    if cfg.evaluation.generic is not False:
        # the reference set's own k-NN distances (R × R, float64), then per member the distances to it and their
        # masks (R × F), and the member's own k-NN distances (F × F), F the generated samples compared
        r = cfg.evaluation.reference_samples
        f = min(n, r)
        parts["the generic metrics' distances"] = (
            ["evaluation.reference_samples", "evaluation.num_samples"],
            8 * r * r + 10 * r * f + 8 * f * f,
        )
    sample = [f"data.{name}" for name in family.sized_by]  # the keys that size one sample
    # the keys that size the networks' layers
    layers = ["model.latent_dim", *(f"model.{net}.{k}" for net in ("generator", "discriminator") for k in NET_SIZES)]
    return parts | {
        "weights and optimizer state": (["ensemble.size", *layers, "model.pack", *sample], state),
        "activations": (["ensemble.size", "data.batch_size", *layers, "model.pack", *sample], activations),
        "real samples": (["ensemble.size", "data.batches_per_step", "data.batch_size", *sample], step_data),
        "evaluation": (["evaluation.num_samples", "ensemble.size", *layers[1:], *sample], evaluation),
    }


NET_SIZES = ("hidden", "pieces")  # a network's keys that size its layers (pieces: a maxout unit's)


def network_size(net: DictConfig, inputs: int, outputs: int) -> tuple[int, int, int]:
    """One member's network as curvegan.nets.EnsembleMLP builds it: its parameters, the units a sample passes
    through (each hidden layer's linear outputs, `pieces` a unit for maxout, and its activations) and its widest
    linear output."""
    pieces = net.get("pieces", 1) if net.get("activation") == "maxout" else 1
    hidden = [width * pieces for width in net.get("hidden", [])]  # each hidden layer's linear outputs
    sizes = [inputs, *net.get("hidden", [])]  # each layer's inputs
    weights = sum(i * o + o for i, o in zip(sizes, [*hidden, outputs], strict=True))
    weights += 4 * sum(hidden) if net.get("norm") else 0  # batch norm's scale, shift and running statistics
    units = inputs + sum(hidden) + sum(net.get("hidden", [])) + outputs
    return weights, units, max([*hidden, outputs])


def available_memory() -> int:
    """Bytes of RAM available now (MemAvailable), or the machine's total where /proc/meminfo is missing."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


BASELINE = 500 * 2**20  # torch, Lightning and Hydra themselves: a default run's peak RSS is about 400 MB


def gb(n: float) -> str:
    return f"{n / 2**30:,.1f} GB"


def blame(keys: list[str], cfg: DictConfig) -> str:
    """Of the keys that size a part, the one the user set (the first such), else the first."""
    given = given_keys()
    return next((k for k in keys if k in given), next((k for k in keys if OmegaConf.select(cfg, k) != 1), keys[0]))


def check_memory(cfg: DictConfig) -> None:
    """Refuse a run whose memory (or samples.npy on disk) would not fit, naming the key that sizes it."""
    parts = memory_estimate(cfg)
    total = BASELINE + sum(b for _, b in parts.values())
    have = available_memory()
    if total > have:
        part, (keys, _) = max(parts.items(), key=lambda item: item[1][1])
        key = blame(keys, cfg)
        raise ConfigError(
            f"{key}={_value(cfg, key)}: needs about {gb(total)} of memory (mostly {part}), this machine has"
            f" {gb(have)} available"
        )
    from curvegan.registry import build

    family = build("family", OmegaConf.to_container(cfg.data, resolve=True), "data")
    samples = 4 * cfg.ensemble.size * cfg.evaluation.num_samples * family.dim
    path = Path(cfg.run_dir).absolute()
    existing = next(p for p in [path, *path.parents] if p.exists())
    free = shutil.disk_usage(existing).free
    if samples > free:
        key = blame(["evaluation.num_samples", "ensemble.size", *(f"data.{k}" for k in family.sized_by)], cfg)
        raise ConfigError(
            f"{key}={_value(cfg, key)}: samples.npy would take {gb(samples)} for {cfg.ensemble.size} members;"
            f" the disk under {existing} has {gb(free)} free"
        )


def _value(cfg: DictConfig, key: str) -> Any:
    value = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(value) if OmegaConf.is_config(value) else value


# --- resuming -------------------------------------------------------------------------------------------

NOT_COMPARED = {"log_every_n_updates", "preview_samples", "lean_steps"}  # settings a resumed run may change


def model_settings(cfg: DictConfig) -> dict:
    """What the model of this config is built from, as its checkpoint records it (GAN's hyperparameters)."""
    from curvegan.blocks import of_config
    from curvegan.registry import complete_node

    model = OmegaConf.to_container(cfg.model, resolve=True)
    model.pop("_target_")
    kinds = {"generator": "network", "discriminator": "network", "variant": "variant"}
    return {
        "family": complete_node("family", OmegaConf.to_container(cfg.data, resolve=True), "data"),
        "members": cfg.ensemble.size,
        "seed": of_config(cfg)[0],
        "blocks": of_config(cfg)[1],
        "objective": complete_node("objective", OmegaConf.to_container(cfg.objective, resolve=True), "objective"),
        **{k: complete_node(kinds[k], v, f"model.{k}") if k in kinds else v for k, v in model.items()},
    }


CONFIG_KEY = {
    "family": "data",
    "members": "ensemble.size",
    "seed": "seed",
    "blocks": "ensemble.blocks",
    "objective": "objective",
}


def check_resumable(cfg: DictConfig, path: str) -> None:
    """Refuse a checkpoint that was trained with other settings, naming every key that differs."""
    import torch

    try:
        trained = torch.load(path, map_location="cpu", weights_only=True)["hyper_parameters"]
        trained["family"]
        trained.setdefault("blocks", None)  # a checkpoint from before blocks: one block
    except Exception as err:
        reason = type(err).__name__
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: not a readable curvegan checkpoint ({reason})") from None
    wanted = model_settings(cfg)
    differences = []
    for name in sorted(set(trained) | set(wanted)):
        if name in NOT_COMPARED:
            continue
        prefix = CONFIG_KEY.get(name, f"model.{name}")
        differences += differ(prefix, trained.get(name, "(none)"), wanted.get(name, "(none)"))
    if differences:
        raise ConfigError(f"ckpt_path={cfg.ckpt_path}: trained with " + "; ".join(differences))


def differ(key: str, had: Any, has: Any) -> list[str]:
    """`key=had, this config has has` for every setting that differs (nested nodes key by key)."""
    if isinstance(had, dict) and isinstance(has, dict) and not (key in CONFIG_KEY.values() and key == "seed"):
        found = []
        for name in sorted(set(had) | set(has)):
            found += differ(
                f"{key}.{name}" if name != "_target_" else f"{key}._target_",
                had.get(name, "(none)"),
                has.get(name, "(none)"),
            )
        return found
    if _plain(had) != _plain(has):
        return [f"{key}={_show(had)}, this config has {_show(has)}"]
    return []


def _plain(value: Any) -> Any:
    """A setting as compared: tuples as lists, numbers as floats."""
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def _show(value: Any) -> str:
    return str(list(value) if isinstance(value, tuple) else value).replace(" ", "")
