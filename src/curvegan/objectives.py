"""GAN objectives: how the discriminator and the generator are scored. The part researchers swap.

An objective is a discriminator loss and a generator loss, both over the discriminator's raw outputs
(logits, or critic scores), plus an optional penalty that needs the discriminator itself. Adding one is a
class here, an entry in OBJECTIVES and a file in configs/objective/.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class NonSaturatingBCE:
    """Goodfellow et al.'s GAN with the generator's fakes labelled "real" (the seed's objective)."""

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(real, torch.ones_like(real)) + (
            F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        )

    def g_loss(self, fake: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor | None:
        return None


class Minimax(NonSaturatingBCE):
    """The original minimax game: G minimises log(1 − D(G(z))), which saturates while D wins easily."""

    def g_loss(self, fake: Tensor) -> Tensor:
        return -F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))


class LeastSquares(NonSaturatingBCE):
    """LSGAN (Mao et al., 2017): squared distance of D's output to the labels 1 (real) and 0 (fake)."""

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return 0.5 * ((fake - 1) ** 2).mean()


class Hinge(NonSaturatingBCE):
    """Hinge loss (Lim & Ye, 2017; as in SAGAN/BigGAN): D wants real ≥ 1 and fake ≤ −1."""

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()


class WassersteinGP(NonSaturatingBCE):
    """WGAN-GP (Gulrajani et al., 2017): a critic's score gap, with its gradient norm pushed to 1 between
    real and fake curves. Its config also sets several critic steps per G update and Adam betas (0, 0.9)."""

    def __init__(self, gp_weight: float = 10.0):
        self.gp_weight = gp_weight

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return fake.mean() - real.mean()

    def g_loss(self, fake: Tensor) -> Tensor:
        return -fake.mean()

    def penalty(self, discriminator: nn.Module, real: Tensor, fake: Tensor, rng: torch.Generator) -> Tensor:
        mix = torch.rand(len(real), 1, device=real.device, generator=rng)
        between = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(between).sum(), between, create_graph=True)
        return self.gp_weight * ((grad.norm(dim=1) - 1) ** 2).mean()


OBJECTIVES = {
    "bce": NonSaturatingBCE,
    "minimax": Minimax,
    "lsgan": LeastSquares,
    "hinge": Hinge,
    "wgan_gp": WassersteinGP,
}


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
