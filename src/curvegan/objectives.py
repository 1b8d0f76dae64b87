"""GAN objectives: how the discriminator and the generator are scored. The part researchers swap.

An objective is a discriminator loss and a generator loss, both over the discriminator's raw outputs
(logits, or critic scores), plus an optional penalty that needs the discriminator itself. Adding one is a
class here, an entry in OBJECTIVES and a file in configs/objective/.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import nn


class NonSaturatingBCE:
    """Goodfellow et al.'s GAN with the generator's fakes labelled "real" (the seed's objective)."""

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + (
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def penalty(self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        return None


OBJECTIVES = {"bce": NonSaturatingBCE}


def make_objective(name: str, **options):
    """The objective called `name`, built with its options (from configs/objective/NAME.yaml)."""
    if name not in OBJECTIVES:
        raise ValueError(f"objective={name}: must be one of {', '.join(sorted(OBJECTIVES))}")
    cls = OBJECTIVES[name]
    known = [p for p in inspect.signature(cls).parameters]
    for option in options:
        if option not in known:
            allowed = f"one of {', '.join(known)}" if known else "none: it takes no options"
            raise ValueError(f"objective.{option}={options[option]}: not an option of {name} ({allowed})")
    return cls(**options)
