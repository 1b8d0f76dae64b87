"""Draw curves from a trained checkpoint: `python -m curvegan.sample ckpt_path=PATH n=10000 out=curves.npy`.

Options (Hydra-style overrides, see configs/sample.yaml): `member=` (which GAN of an ensemble), `out=` (.npy or
.csv), `plot=` (a PNG of the curves, or with `mode=walk` of a walk through the latent space), `seed=`, and for
the variants `a=` (a conditional model: curves for that a) and `code=` (InfoGAN: the latent code fixed).
It prints the quality metrics of what it drew. Every value is checked before anything is written.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from curvegan import import_lightning


class SampleError(ValueError):
    """Bad input to the sampler; its message is the one line the user sees."""


def load_checkpoint(path: str | Path, member: int = 0):
    """Member `member` of a trained ensemble as a one-member model (on the CPU, eval mode), and its data module's
    settings, from a Lightning checkpoint."""
    import torch
    from hydra._internal.utils import _locate

    from curvegan.gan import CurveGAN

    path = Path(path)
    if not path.is_file():
        raise SampleError(f"ckpt_path={path}: no such file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a torn file, or not a torch file at all
        raise SampleError(f"ckpt_path={path}: not a readable checkpoint ({type(err).__name__})") from None
    keys = ("state_dict", "hyper_parameters", "datamodule_hyper_parameters")
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in keys):
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint (needs {', '.join(keys)})")
    hparams = dict(ckpt["hyper_parameters"])
    members = hparams.get("members", 1)
    if not (isinstance(member, int) and 0 <= member < members):
        raise SampleError(f"member={member}: must be a member of this ensemble, 0 to {members - 1}")
    try:
        cls = _locate(ckpt.get("curvegan_model", "curvegan.gan.CurveGAN"))
        gan = cls(**{**hparams, "members": 1})
        gan.load_state_dict(CurveGAN.member_state_dict(ckpt["state_dict"], member))
    except (TypeError, RuntimeError, ValueError, ImportError) as err:
        reason = str(err).splitlines()[0]
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint ({reason})") from None
    return gan.eval(), dict(ckpt["datamodule_hyper_parameters"])


def write_curves(curves, out: Path) -> None:
    import numpy as np

    array = curves.numpy().astype(np.float32)
    partial = out.with_name(out.name + ".partial")
    if out.suffix == ".npy":
        with open(partial, "wb") as f:
            np.save(f, array)
    else:
        np.savetxt(partial, array, delimiter=",", fmt="%.6g")
    partial.replace(out)


def writable(key: str, value: str, suffixes: tuple[str, ...]) -> Path:
    """An output path: the right suffix, and a folder that exists or can be made."""
    path = Path(value)
    if path.suffix not in suffixes:
        raise SampleError(f"{key}={value}: must end in {' or '.join(suffixes)}")
    existing = next(p for p in [path.absolute().parent, *path.absolute().parents] if p.exists())
    if not existing.is_dir():
        raise SampleError(f"{key}={value}: cannot be written ({existing} is not a folder)")
    return path


KEYS = {"ckpt_path", "n", "out", "plot", "mode", "plot_curves", "seed", "member", "a", "code"}


def check(cfg: DictConfig) -> None:
    """Every value the sampler takes, checked before anything is loaded or written."""
    from curvegan.config import SEED_MAX, available_memory, gb

    for key in cfg:
        if key not in KEYS:
            raise SampleError(f"{key}={cfg[key]}: not a key of the sampler (one of {', '.join(sorted(KEYS))})")

    def whole(key, low, high=None):
        value = cfg[key]
        if not (
            isinstance(value, int) and not isinstance(value, bool) and value >= low and (high is None or value <= high)
        ):
            span = f"≥ {low}" if high is None else f"in [{low}, {high}]"
            raise SampleError(f"{key}={value!r}: must be a whole number {span}")

    if cfg.ckpt_path is None:
        raise SampleError("ckpt_path: missing; give ckpt_path=PATH to a checkpoint (a run's checkpoints/last.ckpt)")
    whole("n", 1)
    whole("plot_curves", 1)
    whole("seed", 0, SEED_MAX)
    whole("member", 0)
    if cfg.mode not in ("curves", "walk"):
        raise SampleError(f"mode={cfg.mode}: must be curves or walk")
    for key in ("a", "code"):
        value = cfg[key]
        if value is not None and not (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            raise SampleError(f"{key}={value}: must be a finite number, or null")
    if cfg.out is not None:
        writable("out", cfg.out, (".npy", ".csv"))
    if cfg.plot is not None:
        writable("plot", cfg.plot, (".png",))
    need = cfg.n * 4 * 16 * 4 + 500 * 2**20
    if need > available_memory():
        raise SampleError(f"n={cfg.n}: needs about {gb(need)} of memory, this machine has {gb(available_memory())}")


def sample(cfg: DictConfig) -> dict:
    """Draw cfg.n curves from member cfg.member of cfg.ckpt_path, write what cfg asks for, return their quality."""
    check(cfg)
    import_lightning()
    from curvegan.data import QuadraticCurves
    from curvegan.metrics import curve_quality
    from curvegan.plots import curves_figure, latent_walk_figure

    gan, data = load_checkpoint(cfg.ckpt_path, cfg.member)
    family = QuadraticCurves(**data).family
    x = QuadraticCurves(**data).x
    try:
        inputs = gan.sample_inputs(cfg.n, cfg.seed, family, a=cfg.a, code=cfg.code)
    except ValueError as err:
        raise SampleError(str(err)) from None
    curves = gan.generate(inputs)[0]
    quality = {k: v.item() for k, v in curve_quality(curves, x, family).items() if k != "objective"}
    if cfg.a is not None:
        quality |= {k: v.item() for k, v in gan.requested_quality(curves, x, cfg.a).items()}
    if cfg.out is not None:
        write_curves(curves, Path(cfg.out))
    if cfg.plot is not None:
        if cfg.mode == "walk":
            fig = latent_walk_figure(*gan.walk(), x, family)
        else:
            title = f"{cfg.n} curves, member {cfg.member}\nshape_rmse {quality['shape_rmse']:.3f}"
            fig = curves_figure(curves[: cfg.plot_curves], x, family, title)
        Path(cfg.plot).parent.mkdir(parents=True, exist_ok=True)
        partial = Path(cfg.plot).with_name(Path(cfg.plot).name + ".partial")
        fig.savefig(partial, format="png")
        partial.replace(cfg.plot)
    return quality


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

    from curvegan.train import one_line

    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    try:
        main()
    except (HydraException, OmegaConfBaseException) as err:
        print(f"curvegan.sample: {one_line(err)}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    cli()
