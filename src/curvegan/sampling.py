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


D_VIEW_SAMPLES = 840  # divisible by every pack up to 8 (and 10, 12, 14, 15); rounded up to whole packs otherwise


@torch.no_grad()
def d_view(gan, member: int, seed: int, n: int = D_VIEW_SAMPLES) -> tuple[Tensor, Tensor]:
    """D's scores (its raw outputs: logits, or a critic's scores) of member `member` on n real samples and on n of
    its generator's, [n / pack] each on the CPU: real ones drawn from `seed`, fakes made as training makes them
    (noise, then what the variant gives G beside it for the same real batch), both read with what the variant gives
    D. From generators of their own, never the training stream."""
    pack = gan.hparams.pack
    n = -(-n // pack) * pack  # whole packs
    rng = torch.Generator().manual_seed(seed)
    draw = drawing_from(rng)
    drawn = gan.family.draw((1, n), rng)
    real = gan.family.samples(drawn).to(gan.device)
    given = gan.variant.given(drawn, gan.family, draw)
    z = gan.prior.sample((1, n, gan.hparams.latent_dim), draw)
    inputs = z if given.g is None else torch.cat([z, given.g.to(z)], dim=-1)
    fake = gan.generate(inputs[0], slice(member, member + 1))
    dtype = next(gan.discriminator.parameters()).dtype
    training = gan.discriminator.training
    gan.discriminator.eval()  # as the samples are drawn: a D with batch norm reads them with its running statistics
    try:
        scores = [gan.member_scores(gan.d_input(samples.to(dtype), given), member) for samples in (real, fake)]
    finally:
        gan.discriminator.train(training)
    return scores[0].flatten().float().cpu(), scores[1].flatten().float().cpu()
