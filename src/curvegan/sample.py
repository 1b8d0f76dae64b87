"""Draw samples from a trained checkpoint: `python -m curvegan.sample ckpt_path=PATH n=10000 out=curves.npy`.

Options (Hydra-style overrides, see configs/sample.yaml): `member=` (which GAN of an ensemble), `out=` (.npy or
.csv), `plot=` (a PNG of the samples, or with `mode=walk` of a walk through the latent space), `seed=`, and what
the checkpoint's variant takes (its `options`): `a=` (a conditional model: samples for that a), `code=`
(InfoGAN: the latent code fixed). It prints the quality metrics of what it drew. Every value is checked before
anything is written.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from curvegan import import_lightning
from curvegan.files import atomic
from curvegan.keys import SEED, TEXT, choice, key, keys_of, number, numbers, optional, whole


class SampleError(ValueError):
    """Bad input to the sampler; its message is the one line the user sees."""


def load_checkpoint(path: str | Path, member: int = 0):
    """Member `member` of a trained ensemble as a one-member model (on the CPU, eval mode), from a Lightning
    checkpoint.

    A checkpoint is data: it is read with `weights_only=True` (tensors and plain values only), and the classes
    its hyperparameters name (the model, the family, the networks, the variant, the objective) are looked up
    among the registered ones and built from checked keys (curvegan.registry); nothing it names is imported
    or called. Anything else is refused (SampleError, one line naming the node)."""
    import torch

    from curvegan import registry
    from curvegan.gan import GAN
    from curvegan.memberwise import one_member

    path = Path(path)
    if not path.is_file():
        raise SampleError(f"ckpt_path={path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a torn file, or not a torch file at all
        raise SampleError(f"ckpt_path={path}: not a readable checkpoint ({type(err).__name__})") from None
    keys = ("state_dict", "hyper_parameters")
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in keys) or "family" not in ckpt["hyper_parameters"]:
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint (needs {', '.join(keys)} with a family)")
    hparams = ckpt["hyper_parameters"]
    if not (isinstance(hparams, dict) and all(isinstance(k, str) for k in hparams)):
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint (hyper_parameters is not a dict of keys)")
    members = hparams.get("members", 1)
    if not (isinstance(members, int) and members >= 1):
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint (members={members})")
    if not (isinstance(member, int) and 0 <= member < members):
        raise SampleError(f"member={member}: must be a member of this ensemble, 0 to {members - 1}")
    try:
        cls = registry.resolve("model", ckpt.get("curvegan_model", "curvegan.gan.GAN"), "curvegan_model")
        objective = hparams.get("objective") if isinstance(hparams.get("objective"), dict) else {}
        objective = registry.resolve("objective", objective.get("_target_"), "objective")
        gan = cls(**{**one_member(hparams, member, cls, objective), "members": 1})  # its own settings alone
        gan.load_state_dict(GAN.member_state_dict(ckpt["state_dict"], member))
    except registry.NotBuildable as err:
        raise SampleError(f"ckpt_path={path}: refused, it names what curvegan does not build: {err}") from None
    except Exception as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint ({reason})") from None
    return gan.eval()


def write_samples(samples, out: Path) -> None:
    import numpy as np

    array = samples.numpy().astype(np.float32)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic(out) as partial:
        if out.suffix == ".npy":
            with open(partial, "wb") as f:
                np.save(f, array)
        else:
            np.savetxt(partial, array, delimiter=",", fmt="%.6g")


def writable(key: str, value: str, suffixes: tuple[str, ...]) -> Path:
    """An output path: the right suffix, not a folder, and a folder that exists or can be made (tried at its
    nearest existing folder, and removed again: nothing is left)."""
    import os
    import tempfile

    path = Path(value)
    if path.suffix not in suffixes:
        raise SampleError(f"{key}={value}: must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise SampleError(f"{key}={value}: is a folder; give a file name ending in {' or '.join(suffixes)}")
    existing = next(p for p in [path.absolute().parent, *path.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise SampleError(f"{key}={value}: cannot be written ({existing} is not a folder)")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".curvegan-", dir=existing))
    except OSError as err:
        raise SampleError(f"{key}={value}: cannot be written ({existing}: {err.strerror or err})") from None
    return path


@dataclass
class SampleKeys:
    """The sampler's keys (configs/sample.yaml starts from them)."""

    ckpt_path: str | None = key(None, optional(TEXT), "a training run's checkpoint, e.g. RUN/checkpoints/last.ckpt")
    member: int = key(0, whole(0), "which GAN of an ensemble (0 to ensemble.size - 1)")
    n: int = key(10000, whole(1), "samples to draw")
    out: str | None = key(None, optional(TEXT), "where to write them: .npy (float32 [n, dim]) or .csv; null: nowhere")
    plot: str | None = key(None, optional(TEXT), "a PNG of the samples (mode=samples) or of a latent walk (mode=walk)")
    mode: str = key("samples", choice("samples", "walk"), "what plot= draws")
    plot_samples: int | None = key(
        None, optional(whole(1)), "samples drawn in the picture; null: 48 curves, or every one of a family of points"
    )
    seed: int = key(1234, SEED, "noise seed; training's samples.npy uses evaluation.seed (1234 by default)")
    a: float | None = key(None, optional(number()), "model=cgan: draw samples for this a (within the trained range)")
    params: list[float] | None = key(
        None, optional(numbers()), "model=cgan: draw samples for these parameters, e.g. params=[1.2,0.3] (data=cubic)"
    )
    code: float | None = key(
        None, optional(number()), "model=infogan: fix the continuous codes at this value, in [-1, 1]"
    )


OPTIONS = ("a", "params", "code")  # what a variant may take (its `options`); each is checked against the checkpoint's


def check(cfg: DictConfig) -> None:
    """Every value the sampler takes, checked against its key's rule before anything is loaded or written."""

    declared = keys_of(SampleKeys)
    for name in cfg:
        if name not in declared:
            raise SampleError(f"{name}={cfg[name]}: not a key of the sampler (one of {', '.join(sorted(declared))})")
        allowed = declared[name].rule(cfg[name])
        if allowed is not None:
            raise SampleError(f"{name}={cfg[name]}: must be {allowed}")
    if cfg.ckpt_path is None:
        raise SampleError("ckpt_path: missing; give ckpt_path=PATH to a checkpoint (a run's checkpoints/last.ckpt)")
    if cfg.out is not None:
        writable("out", cfg.out, (".npy", ".csv"))
    if cfg.plot is not None:
        writable("plot", cfg.plot, (".png",))


def check_memory(n: int, gan) -> None:
    """Refuse an n whose samples would not fit in memory with this checkpoint's generator: n rows of its widest
    layer's outputs (a few alive at once), of its inputs, and of the samples with what scoring makes of them."""
    from curvegan.preflight import BASELINE, available_memory, gb

    widest = max(p.shape[-1] for p in gan.generator.parameters())
    inputs = next(gan.generator.parameters()).shape[-2]
    need = BASELINE + 4 * n * (3 * widest + inputs + 8 * gan.family.dim)
    if need > available_memory():
        raise SampleError(
            f"n={n}: needs about {gb(need)} of memory with this checkpoint's generator ({widest} wide), this"
            f" machine has {gb(available_memory())}"
        )


def sample(cfg: DictConfig) -> dict:
    """Draw cfg.n samples from member cfg.member of cfg.ckpt_path, write what cfg asks for, return their quality."""
    check(cfg)
    import_lightning()
    import torch

    from curvegan.metrics import headline
    from curvegan.plots import latent_walk_figure, samples_figure, style_of
    from curvegan.sampling import fixed_inputs, walk

    gan = load_checkpoint(cfg.ckpt_path, cfg.member)
    check_memory(cfg.n, gan)
    variant, family = gan.variant, gan.family
    options = {name: cfg[name] for name in OPTIONS if cfg[name] is not None}
    for name, value in options.items():
        if name not in variant.options:
            takes = ", ".join(f"{k}=" for k in variant.options) or "no option"
            raise SampleError(f"{name}={value}: this checkpoint holds {variant.title}, which takes {takes}")
    try:
        inputs, fixed = fixed_inputs(gan, cfg.n, torch.Generator().manual_seed(cfg.seed), "sample", **options)
    except ValueError as err:
        raise SampleError(str(err)) from None
    samples = gan.generate(inputs)[0]
    quality = {k: v.item() for k, v in family.quality(samples[None]).items() if k != "objective"}
    quality |= {k: v.item() for k, v in variant.requested_quality(samples, family, **options).items()}
    if cfg.out is not None:
        write_samples(samples, Path(cfg.out))
    if cfg.plot is not None:
        if cfg.mode == "walk":
            fig = latent_walk_figure(*walk(gan), family)
        else:
            every = cfg.plot_samples is None and family.draws_scored  # points: density shows, as the ring's
            shown = cfg.n if every else min(cfg.plot_samples or 48, cfg.n)
            asked = "".join(f" · {name}={value}" for name, value in options.items())  # a cGAN's request
            title = f"{shown:,} of {cfg.n:,} samples · member {cfg.member}{asked}\n{headline(quality, digits=3)}"
            style = style_of(fixed, family, shown)  # a requested a: its true curve dashed over them
            fig = samples_figure(samples[:shown], family, title, style | {"legend": style.get("legend") or "generated"})
        Path(cfg.plot).parent.mkdir(parents=True, exist_ok=True)
        with atomic(cfg.plot) as partial:
            fig.savefig(partial, format="png")
    return quality


ConfigStore.instance().store(name="sample_schema", node=SampleKeys)


@hydra.main(version_base="1.3", config_path="pkg://curvegan.conf", config_name="sample")
def main(cfg: DictConfig) -> None:
    try:
        quality = sample(cfg)
    except SampleError as err:
        print(f"curvegan.sample: {err}", file=sys.stderr)
        sys.exit(2)
    print(" · ".join(f"{k} {v:.4f}" for k, v in quality.items()) + f"  ({cfg.n} curves, seed {cfg.seed})")
    for what in ("out", "plot"):
        if cfg[what] is not None:
            print(f"wrote {cfg[what]}")


def cli() -> None:
    """`python -m curvegan.sample`: a bad override is one line too (Hydra's own errors included)."""
    import os

    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from curvegan.errors import check_arguments, one_line

    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    check_arguments("curvegan.sample")
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        print(f"curvegan.sample: {one_line(err)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
