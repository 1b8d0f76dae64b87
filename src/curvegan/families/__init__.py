"""Data families: what real samples are, how to draw them, and how to score generated samples against them.

A family is one module of this package, holding a dataclass `Family` subclass with a `name` (data=NAME
selects it, configs/data/NAME.yaml): its keys (curvegan.keys), the size of one sample (`dim`), how real samples
are drawn (`draw`, then `samples`), its exact metrics on generated samples [members, n, dim] (`quality`,
declared in `metrics`), and how a figure shows samples (`background`, `artists`, `update`). Code outside the
family asks it; none tests which family it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.keys import key, node, whole
from curvegan.metrics import Metric


@dataclass
class Family:
    """How real samples are served, the same for every family: batches of fresh samples, every epoch."""

    metrics: ClassVar[tuple[Metric, ...]] = ()
    parameter: ClassVar[str | None] = None  # the one number a real sample is made from (curves: a), if any
    shown: ClassVar[tuple[str, ...]] = ()  # the metrics a figure's title shows
    objective_says: ClassVar[str] = "the objective"  # what `objective` adds up, for the figures' ranking

    batch_size: int = key(32, whole(1), "real samples per batch")
    batches_per_epoch: int = key(300, whole(1), "batches per epoch, fresh every epoch (one G update each)")
    batches_per_step: int = key(25, whole(1), "batches one training_step call takes: speed only, same training")

    # --- the data -----------------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """The size of one sample."""
        raise NotImplementedError

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """What real samples of `shape` are made from, on the CPU: [*shape] (the parameter) or [*shape, ...]. It
        is what the data module hands to the device, and what a conditional model is conditioned on."""
        raise NotImplementedError

    def samples(self, drawn: Tensor) -> Tensor:
        """The real samples made from `drawn`, on its device: [*shape, dim]."""
        raise NotImplementedError

    # --- scoring ------------------------------------------------------------------------------------------

    def quality(self, samples: Tensor) -> dict[str, Tensor]:
        """The family's exact metrics of generated samples [members, n, dim]: {name: [members]}, the names its
        `metrics` declare, `objective` (what sweeps minimise) among them."""
        raise NotImplementedError

    def collapsed(self, quality: dict[str, Tensor]) -> Tensor:
        """[members] bool: which members have collapsed, by their quality."""
        raise NotImplementedError

    def describe(self) -> str:
        """A few words for titles: what the real samples are."""
        return type(self).__name__

    # --- for a variant that reads the parameter (a conditional GAN, InfoGAN's code) -------------------------

    def parameter_range(self) -> tuple[float, float]:
        """The range of the parameter that holds (nearly) every real sample."""
        raise NotImplementedError

    def fit_parameter(self, samples: Tensor) -> Tensor:
        """The parameter of each sample [..., dim] that fits it best: [...]."""
        raise NotImplementedError

    def parameter_modes(self) -> list[tuple[float, float]] | None:
        """The intervals of the parameter that hold its modes, for a histogram of fitted parameters; None: none."""
        return None

    # --- figures ------------------------------------------------------------------------------------------

    def background(self, ax) -> None:
        """Draw where the real samples lie (and set the axes' limits)."""
        raise NotImplementedError

    def artists(self, ax, n: int, colors: list | None) -> list:
        """Add the artists that will show n samples (coloured by `colors` [n], if given); return them."""
        raise NotImplementedError

    def update(self, artists: list, samples: Tensor) -> None:
        """Show samples [n, dim] with the artists `artists` made."""
        raise NotImplementedError

    def axis_labels(self) -> tuple[str, str]:
        return "x", "y"

    # --- config -------------------------------------------------------------------------------------------

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        """A relation between the family's keys that their rules alone cannot state: (key, value, allowed)."""
        return None

    def config(self) -> dict:
        """This family as a config node (what builds it again)."""
        return node(type(self), **asdict(self))
