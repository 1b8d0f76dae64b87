"""Draw curves from a trained checkpoint: `python -m curvegan.sample ckpt_path=PATH n=10000 out=curves.npy`.

Options (Hydra-style overrides, see configs/sample.yaml): `out=` (.npy or .csv), `plot=` (a PNG of the curves,
or with `mode=walk` of a latent walk), `seed=`. It prints the quality metrics of what it drew.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig


class SampleError(ValueError):
    """Bad input to the sampler; its message is the one line the user sees."""


def load_checkpoint(path: str | Path):
    """A trained CurveGAN (on the CPU, eval mode) and its data settings, from a Lightning checkpoint."""
    import torch

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
    try:
        gan = CurveGAN(**ckpt["hyper_parameters"])
        gan.load_state_dict(ckpt["state_dict"])
    except (TypeError, RuntimeError, ValueError) as err:
        reason = str(err).splitlines()[0]
        raise SampleError(f"ckpt_path={path}: not a curvegan checkpoint ({reason})") from None
    return gan.eval(), dict(ckpt["datamodule_hyper_parameters"])


def latent_walk(gan, steps: int = 9, span: float = 2.5):
    """Curves met moving each latent coordinate over [-span, span] with the others at 0: [dims, steps, points].

    For uniform noise the span is that of the noise, [-1, 1].
    """
    import torch

    dims = gan.hparams.latent_dim
    if gan.hparams.get("latent") == "uniform":
        span = 1.0
    values = torch.linspace(-span, span, steps)
    z = torch.zeros(dims, steps, dims)
    z[torch.arange(dims), :, torch.arange(dims)] = values
    return gan.sample_from(z.reshape(-1, dims)).reshape(dims, steps, -1), values


def write_curves(curves, out: Path) -> None:
    import numpy as np

    out.parent.mkdir(parents=True, exist_ok=True)
    array = curves.numpy().astype(np.float32)
    if out.suffix == ".npy":
        np.save(out, array)
    else:
        np.savetxt(out, array, delimiter=",", fmt="%.6g")


def sample(cfg: DictConfig) -> dict:
    """Draw cfg.n curves from cfg.ckpt_path, write what cfg asks for, return their quality metrics."""
    n, out, plot = cfg.n, cfg.out, cfg.plot
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise SampleError(f"n={n!r}: must be a whole number of curves, 1 or more")
    if out is not None and Path(out).suffix not in (".npy", ".csv"):
        raise SampleError(f"out={out}: must end in .npy or .csv")
    if cfg.mode not in ("curves", "walk"):
        raise SampleError(f"mode={cfg.mode}: must be curves or walk")
    if cfg.ckpt_path is None:
        raise SampleError("ckpt_path: missing; give ckpt_path=PATH to a checkpoint (a run's checkpoints/last.ckpt)")

    from curvegan.data import curve_grid
    from curvegan.metrics import curve_quality
    from curvegan.plots import curves_figure, latent_walk_figure

    gan, data = load_checkpoint(cfg.ckpt_path)
    x = curve_grid(data["num_points"])
    curves = gan.sample(n, cfg.seed)
    quality = curve_quality(curves, x, data["a_min"], data["a_max"])
    if out is not None:
        write_curves(curves, Path(out))
    if plot is not None:
        if cfg.mode == "walk":
            fig = latent_walk_figure(*latent_walk(gan), x, data["a_min"], data["a_max"])
        else:
            title = f"{n} curves from {Path(cfg.ckpt_path).name}: shape_rmse {quality['shape_rmse']:.3f}"
            fig = curves_figure(curves[: cfg.plot_curves], x, data["a_min"], data["a_max"], title)
        Path(plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(plot)
    return quality


@hydra.main(version_base="1.3", config_path="../../configs", config_name="sample")
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


if __name__ == "__main__":
    main()
