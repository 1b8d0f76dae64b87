"""The model's fixed inputs and what it draws from them: the noise (from a fixed generator, the same for every
member) and what the variant adds to it, for the figures, the metrics and the sampler; the inputs the variant asks
to see beside the same noise; and a latent walk. The variant says what to add (curvegan.variants); this module
does the drawing and the generating."""

from __future__ import annotations

import torch
from torch import Tensor

from curvegan.latents import drawing_from
from curvegan.variants import Fixed


def fixed_inputs(gan, n: int, rng: torch.Generator, purpose: str = "preview", **options) -> tuple[Tensor, Fixed]:
    """G's inputs [n, inputs] for n samples: noise from `rng`, then what the variant adds for `purpose` (preview,
    evaluation, sample); and the variant's `Fixed` (with `known["request_inputs"]`, the inputs beside the same
    noise whose samples the variant's metrics want). ValueError: a sampler option the variant cannot serve."""
    z = gan.prior.sample((n, gan.hparams.latent_dim), drawing_from(rng))
    fixed = gan.variant.fixed(n, rng, gan.family, purpose, **options)
    if fixed.zero_noise:
        z = torch.zeros_like(z)
    requests = fixed.known.get("requests")
    if requests is not None:
        fixed.known["request_inputs"] = torch.cat([z, requests.to(z)], dim=-1)
    return (z if fixed.g is None else torch.cat([z, fixed.g.to(z)], dim=-1)), fixed


def evaluation_inputs(gan, n: int, seed: int) -> tuple[Tensor, Fixed]:
    """The inputs every measurement of quality draws from (samples.npy's): n of them from `seed`."""
    return fixed_inputs(gan, n, torch.Generator().manual_seed(seed), "evaluation")


def walk(gan, steps: int = 9) -> tuple[Tensor, Tensor, list[str]]:
    """Samples met moving one thing at a time (each noise coordinate over the prior's span; a variant walks its
    condition or codes first): ([rows, steps, dim] on the CPU, the moving values [rows, steps], a label per row)."""
    z, extra, values, labels = gan.variant.walk(steps, gan.hparams.latent_dim, gan.prior.span, gan.family)
    inputs = z if extra is None else torch.cat([z, extra.to(z)], dim=-1)
    samples = gan.generate(inputs.reshape(-1, inputs.shape[-1]))[0].reshape(len(inputs), steps, -1).cpu()
    return samples, values, labels
