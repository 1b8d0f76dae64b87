"""Variants: what G is given beside the noise and D beside a sample, the loss a variant adds, its metrics and its
sampler options. `Variant` is the plain GAN (model=mlp).

A variant is a conditioning object: its hooks take tensors (and the family, for what the data is) and return
tensors; it never holds or calls the model. The model (curvegan.gan) draws the noise, calls G and D, splits D's
outputs pack by pack, generates what a variant asks to see and draws the figures, coloured by the labels a
variant returns. A variant is one module of this package holding a subclass with a `name` (configs/model/NAME.yaml
selects it as `model.variant`); its six hooks:

- `given(drawn, family, draw)`: for one batch, what G is given beside the noise, what D is given beside each
  sample (real and fake alike), and the codes D's extra outputs should recover (`Given`);
- `aux_loss(estimate, code)`: a loss added to both networks' (InfoGAN's information loss);
- `fixed(n, rng, family, purpose, **options)`: G's inputs beside fixed noise for the figures (purpose "preview"),
  the metrics ("evaluation") and the sampler ("sample", with its `options`), and what colours them (`Fixed`);
- `quality(samples, requested, known, family)`: its metrics of generated samples, `requested` being the samples
  drawn for the inputs `fixed` asked for (`known["requests"]`);
- `walk(steps, latent_dim, span, family)`: the inputs of a latent walk, one row per thing walked;
- `requested_quality(samples, family, **options)`: how well the sampler's samples match the options asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.metrics import Metric


@dataclass
class Given:
    """What a variant adds to one batch: G's inputs beside the noise [members, n, g], D's beside each sample
    [members, n, d] (the same for the real and the fake ones), and the codes D's extra outputs estimate."""

    g: Tensor | None = None
    d: Tensor | None = None
    code: Tensor | None = None


@dataclass
class Fixed:
    """What a variant adds to fixed noise [n, latent]: G's inputs beside it [n, g], whether the noise is held at
    0, what the variant's metrics need (`known`; `known["requests"]` [n, g]: inputs beside the same noise whose
    samples it wants to see too), and for figures: a value per sample to colour by (`labels`), the colour bar's
    name and range (`scale`; None: categories), distinct values whose real samples are drawn over the generated ones
    (`references`), and the legend."""

    g: Tensor | None = None
    zero_noise: bool = False
    known: dict = field(default_factory=dict)
    labels: Tensor | None = None
    scale: tuple[str, float, float] | None = None
    references: Tensor | None = None
    legend: str = "generated"


@dataclass
class Variant:
    """The plain GAN: G turns noise into a sample, D scores a sample with one logit."""

    name: ClassVar[str] = "plain"
    title: ClassVar[str] = "a plain GAN (model=mlp)"
    metrics: ClassVar[tuple[Metric, ...]] = ()
    options: ClassVar[dict[str, str]] = {}  # what the sampler may ask of it: {option: what it means}
    shown: ClassVar[tuple[str, ...]] = ()  # its metrics a figure's title shows

    def sizes(self, family) -> tuple[int, int, int]:
        """The networks' sizes for this family: G's inputs beside the noise, D's beside a sample, and D's outputs
        per sample beside its logit (estimates of the codes)."""
        return 0, 0, 0

    # --- the six hooks ----------------------------------------------------------------------------------------

    def given(self, drawn: Tensor, family, draw) -> Given:
        """For a batch of real samples made from `drawn` [members, n, ...]; `draw(shape, uniform)` takes random
        numbers from training's stream (after the noise)."""
        return Given()

    def aux_loss(self, estimate: Tensor | None, code: Tensor | None) -> Tensor | None:
        """A per-member loss for recovering the codes from D's extra outputs; None for none."""
        return None

    def fixed(self, n: int, rng: torch.Generator, family, purpose: str, **options: float) -> Fixed:
        """For n fixed noise vectors just drawn from `rng`: purpose "preview", "evaluation" or "sample". Raises
        ValueError (one line) for a sampler option it cannot serve."""
        return Fixed()

    def quality(self, samples: Tensor, requested: Tensor | None, known: dict, family) -> dict[str, Tensor]:
        """The variant's own metrics of samples [m, n, dim] (those of `metrics`), each [m]."""
        return {}

    def walk(self, steps: int, latent_dim: int, span: float, family) -> tuple[Tensor, Tensor | None, Tensor, list]:
        """A walk moving one thing at a time: (noise [rows, steps, latent_dim], G's other inputs [rows, steps, g]
        or None, the moving value [rows, steps], a label per row). The plain GAN walks each noise coordinate over
        the prior's span, the others at 0."""
        values = torch.linspace(-span, span, steps)
        z = torch.zeros(latent_dim, steps, latent_dim)
        z[torch.arange(latent_dim), :, torch.arange(latent_dim)] = values
        return z, None, values.expand(latent_dim, steps), [f"z[{d}]" for d in range(latent_dim)]

    def requested_quality(self, samples: Tensor, family, **options: float) -> dict[str, Tensor]:
        """How well samples [n, dim] the sampler drew for the options asked match them."""
        return {}

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        """A relation to the rest of the config that the keys' rules alone cannot state: (key, value, allowed)."""
        return None
