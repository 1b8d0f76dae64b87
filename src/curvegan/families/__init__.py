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

from curvegan.keys import BOOLEAN, key, node, whole
from curvegan.metrics import Metric


@dataclass
class Family:
    """How real samples are served, the same for every family: batches of fresh samples every epoch, or (fixed_set)
    one training set reshuffled every epoch."""

    metrics: ClassVar[tuple[Metric, ...]] = ()
    parameters: ClassVar[tuple[str, ...]] = ()  # the numbers a real sample is made from (curves: a; cubics: a, b)
    shown: ClassVar[tuple[str, ...]] = ()  # the metrics a figure's title shows
    objective_says: ClassVar[str] = "the objective"  # what `objective` adds up, for the figures' ranking
    # Generic metrics that say nothing on this family's data (docs/metrics.md): in metrics.json and the report, but
    # not logged (TensorBoard's charts of them would be flat) unless callbacks.monitor.degenerate_metrics=true.
    degenerate: ClassVar[tuple[str, ...]] = ()
    sized_by: ClassVar[tuple[str, ...]] = ()  # the keys that set the size of a sample (`dim`), for the preflight

    batch_size: int = key(32, whole(1), "real samples per batch")
    batches_per_epoch: int = key(300, whole(1), "batches per epoch, fresh every epoch (one G update each)")
    batches_per_step: int = key(25, whole(1), "batches one training_step call takes: speed only, same training")
    fixed_set: bool = key(
        False,
        BOOLEAN,
        "true: one training set of batch_size × batches_per_epoch samples, drawn once and reshuffled every epoch"
        " (PacGAN's code); false: fresh samples every epoch",
    )

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

    # --- for a variant that reads the parameters (a conditional GAN, InfoGAN's codes) ----------------------

    def parameter_ranges(self) -> list[tuple[float, float]]:
        """Each parameter's range, which holds (nearly) every real sample."""
        raise NotImplementedError

    def parameter_vector(self, drawn: Tensor) -> Tensor:
        """What `draw` returned as parameter vectors [..., P] (a one-parameter family draws [...])."""
        raise NotImplementedError

    def fit_parameters(self, samples: Tensor) -> Tensor:
        """The parameters of each sample [..., dim] that fit it best: [..., P]."""
        raise NotImplementedError

    def mode_counts(self, samples: Tensor) -> Tensor | None:
        """A family of modes: [M], the high-quality samples of [n, dim] whose nearest mode each mode is (what
        its mode metrics count); None for a family without modes."""
        return None

    def mode_labels(self) -> list[str]:
        """A short name for each mode, in mode_counts' order."""
        return []

    def parameter_modes(self) -> list[tuple[float, float]] | None:
        """The intervals of the first parameter that hold its modes, for a histogram of fitted values; None: none."""
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

    # A figure of points shows every sample it scored (2,500 for the ring: density shows); one of curves shows the
    # model's few preview samples (48 lines are as many as can be told apart).
    draws_scored: ClassVar[bool] = False

    def legend_handles(self, label: str, color) -> list:
        """The legend's entries for samples drawn as `artists` draws them (a line for curves)."""
        from matplotlib.lines import Line2D

        return [Line2D([], [], color=color, label=label)]

    # --- config -------------------------------------------------------------------------------------------

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        """A relation between the family's keys that their rules alone cannot state: (key, value, allowed)."""
        return None

    def config(self) -> dict:
        """This family as a config node (what builds it again)."""
        return node(type(self), **asdict(self))


# float32's relative resolution (2⁻²³) times this is the least σ a mode can have, relative to its distance from 0:
# below it float32 cannot hold the samples' spread (they collapse onto a few representable values).
LEAST_SIGMA_IN_ULPS = 16


def unscorable(centres: Tensor, sigma: float, within: float) -> tuple[str, str] | None:
    """Why modes at `centres` [M, d] with std σ, a sample scored by its nearest mode within `within`·σ, cannot be
    scored: ("std", why) when float32 cannot hold σ at the modes' scale, ("centres", why) when two modes coincide
    or are so close that their scoring balls overlap; None when they can."""
    reach = max(float(centres.abs().max()), 1.0)
    least = LEAST_SIGMA_IN_ULPS * reach * 2.0**-23
    if sigma < least:
        return "std", f"≥ {least:.3g} (float32 cannot hold a smaller spread at modes {reach:g} from 0)"
    if len(centres) > 1:
        gaps = torch.cdist(centres.double(), centres.double()) + torch.eye(len(centres), dtype=torch.float64) * 1e300
        closest = float(gaps.min())
        if closest <= 2 * within * sigma:
            what = "two modes coincide" if closest == 0 else f"two modes are {closest:.3g} apart"
            return "centres", (
                f"a value that keeps every two modes more than {2 * within:g}σ = {2 * within * sigma:.3g} apart"
                f" ({what}; a sample is scored by the mode within {within:g}σ of it)"
            )
    return None


def given_one(keys: list[str], given: list[str]) -> str:
    """Of the keys a refusal is about, the one the user gave (the first such), else the first."""
    return next((k for k in keys if k in given), keys[0])
