"""Variants: what G is fed, what D reads and returns, what is drawn and measured, and what the sampler may ask.

`Variant` is the plain GAN (model=mlp). A variant is one module of this package holding a subclass with a
`name` (configs/model/NAME.yaml selects it as `model.variant`) that overrides what it changes; the training loop
(curvegan.gan) calls these hooks and nothing else of it. A variant is bound to its model (`bind`) and reads the
model's prior, random stream, networks and family from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.latents import drawing_from
from curvegan.metrics import Metric


@dataclass
class Variant:
    """The plain GAN: G turns noise into a sample, D scores a sample with one logit."""

    name: ClassVar[str] = "plain"
    title: ClassVar[str] = "a plain GAN (model=mlp)"
    metrics: ClassVar[tuple[Metric, ...]] = ()
    options: ClassVar[dict[str, str]] = {}  # what the sampler may ask of it: {option: what it means}
    shown: ClassVar[tuple[str, ...]] = ()  # its metrics a figure's title shows

    def bind(self, gan) -> None:
        self.gan = gan

    # --- the networks' shapes -----------------------------------------------------------------------------

    @property
    def extra_inputs(self) -> int:
        """G's inputs besides the noise."""
        return 0

    @property
    def condition_features(self) -> int:
        """What D reads of a sample besides the sample."""
        return 0

    @property
    def code_outputs(self) -> int:
        """D's outputs per sample besides its logit (estimates of latent codes)."""
        return 0

    # --- training -----------------------------------------------------------------------------------------

    def fake_batch(self, drawn: Tensor) -> tuple[Tensor, Any, Tensor | None]:
        """Fakes for one D or G step beside real samples made from `drawn` [members, n, ...]: (samples
        [members, n, dim], what D is told about them, the latent codes Q should recover)."""
        gan = self.gan
        return gan.generator(gan.noise(drawn.shape[1])), None, None

    def d_input(self, samples: Tensor, condition: Any) -> Tensor:
        """What D reads of each sample [members, n, dim] (real samples' condition: what they were drawn from)."""
        return samples

    def split(self, out: Tensor) -> tuple[Tensor, Tensor | None]:
        """D's outputs [members, n / pack, outputs] as (logits [members, n / pack, 1], code estimates or None)."""
        return out, None

    def info_loss(self, estimate: Tensor | None, code: Tensor | None) -> Tensor | None:
        """A per-member loss for recovering latent codes (InfoGAN); None for a plain GAN."""
        return None

    # --- drawing and measuring ------------------------------------------------------------------------------

    def noise(self, n: int, rng: torch.Generator) -> Tensor:
        """[n, latent_dim] from a fixed generator."""
        return self.gan.prior.sample((n, self.gan.hparams.latent_dim), drawing_from(rng))

    def preview_inputs(self, n: int, rng: torch.Generator) -> Tensor:
        """Generator inputs [n, inputs] for the per-epoch figure, the same for every member."""
        return self.noise(n, rng)

    def preview_style(self, n: int) -> dict:
        """How the figure shows the first n preview samples: colors (one each), references (true samples drawn
        beneath, coloured alike), legend, and colorbar ((label, low, high) of the colours' scale) where they apply."""
        return {"legend": "generated"}

    def evaluation_inputs(self, n: int, seed: int) -> tuple[Tensor, dict]:
        """Generator inputs [n, inputs] (the same for every member) for measuring quality, and what the
        variant's own metrics need to know about them."""
        return self.noise(n, torch.Generator().manual_seed(seed)), {}

    def quality(self, samples: Tensor, known: dict, members: slice) -> dict[str, Tensor]:
        """The variant's own metrics of the samples [m, n, dim] of `members`, each [m] (those of `metrics`)."""
        return {}

    def sample_inputs(self, n: int, seed: int, **options: float) -> Tensor:
        """Generator inputs [n, inputs] for the sampler: by default evaluation's (so the sampler's samples are a
        run's samples.npy), changed by the options the variant takes (its `options`)."""
        return self.evaluation_inputs(n, seed)[0]

    def requested_quality(self, samples: Tensor, **options: float) -> dict[str, Tensor]:
        """How well samples [n, dim] drawn for the options asked match them."""
        return {}

    def walk(self, steps: int = 9) -> tuple[Tensor, Tensor, list[str]]:
        """Samples met moving each latent coordinate over its range with the others at 0: ([dims, steps, dim],
        the coordinate's values [dims, steps], a label per coordinate)."""
        gan = self.gan
        dims, span = gan.hparams.latent_dim, gan.prior.span
        values = torch.linspace(-span, span, steps)
        z = torch.zeros(dims, steps, dims)
        z[torch.arange(dims), :, torch.arange(dims)] = values
        samples = gan.generate(z.reshape(-1, dims))[0].reshape(dims, steps, -1).cpu()
        return samples, values.expand(dims, steps), [f"z[{d}]" for d in range(dims)]

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        """A relation to the rest of the config that the keys' rules alone cannot state: (key, value, allowed)."""
        return None
