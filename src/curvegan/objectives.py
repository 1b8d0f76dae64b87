"""GAN objectives: how the discriminator and the generator are scored. The part researchers swap.

An objective is a discriminator loss and a generator loss over the discriminator's raw outputs (logits, or
critic scores) [members, n, 1] of the real and of the fake batch, plus an optional penalty that needs the
discriminator itself. Both losses see both sides: D's loss always, G's where the objective says it compares
(`g_sees_real`: the model then scores the real batch through the current D in G's update too), so a relativistic
loss is one class. Every loss is per member, [members]: a mean over that member's own batch. The model sums them
over members before its backward pass, so each member's gradient is its own. An objective is a dataclass of its
keys with a `name` (objective=NAME): adding one is a class here and configs/objective/NAME.yaml.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from curvegan.keys import key, number
from curvegan.memberwise import values  # a member-wise weight: a number, or a [members] tensor


def as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def member_mean(x: Tensor) -> Tensor:
    """[members, ...] → [members]: the mean over everything but the member axis."""
    return x.flatten(1).mean(dim=1)


def bce(logits: Tensor, label: float) -> Tensor:
    """Binary cross-entropy of logits against one label, per member."""
    return member_mean(F.binary_cross_entropy_with_logits(logits, labels(logits, label), reduction="none"))


_LABELS: dict[tuple, Tensor] = {}


def labels(like: Tensor, label: float) -> Tensor:
    """A tensor of `label` shaped as `like`, made once per shape (a training loop asks for the same ones each step)."""
    spec = (like.shape, like.dtype, like.device, label)
    if spec not in _LABELS:
        _LABELS[spec] = torch.full_like(like, label, requires_grad=False)
    return _LABELS[spec]


def gradient(critic: Callable[[Tensor], Tensor], inputs: Tensor) -> Tensor:
    """D's gradient at each input [members, n, f], kept in the graph so that a penalty on it trains D. Each
    member's scores depend only on its own inputs, so this one gradient holds every member's own."""
    inputs = inputs.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(inputs).sum(), inputs, create_graph=True)
    return grad


@dataclass
class Objective:
    """What every objective is (the kind curvegan.registry builds for `objective=`): D's and G's losses, per
    member, and an optional penalty on D. Subclasses are dataclasses of their keys with a `name`."""

    # Whether G's loss compares the fakes with the real batch: `g_loss` then receives D's scores of both.
    g_sees_real: ClassVar[bool] = False

    @property
    def penalized(self) -> bool:
        """Whether D's loss has a `penalty` term."""
        return False

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        """G's loss from D's scores of the fakes (and, where `g_sees_real`, of the real batch, through the same D;
        no gradient reaches G through them)."""
        raise NotImplementedError

    def penalty(self, critic, real: Tensor, fake: Tensor, uniform) -> Tensor | None:
        return None


@dataclass
class NonSaturatingBCE(Objective):
    """Goodfellow et al.'s GAN with the generator's fakes labelled "real" (the seed's objective).

    Every objective takes `r1`: the R1 penalty (Mescheder et al., 2018), r1/2 · E‖∇D(real)‖², which keeps D
    from rising steeply around the real samples, and `r2`, the same on the fake samples, r2/2 · E‖∇D(fake)‖²
    (R3GAN's pair, Huang et al., 2024: brownvc/R3GAN, R3GAN/Trainer.py, ZeroCenteredGradientPenalty, each
    sample's squared gradient norm, γ/2 on each); 0 (the default) turns each off.
    """

    name: ClassVar[str] = "bce"

    r1: Any = key(
        0.0, number(at_least=0), "R1 penalty γ on D's gradient at real samples (Mescheder et al., 2018)", members=True
    )

    r2: Any = key(
        0.0,
        number(at_least=0),
        "R2 penalty γ on D's gradient at fake samples (R3GAN, Huang et al., 2024)",
        members=True,
    )

    @property
    def penalized(self) -> bool:
        """Whether D's loss has a `penalty` term."""
        return any(r > 0 for r in as_list(self.r1) + as_list(self.r2))

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return bce(real, 1.0) + bce(fake, 0.0)

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return bce(fake, 1.0)

    def penalty(
        self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, uniform: Callable[..., Tensor]
    ) -> Tensor | None:
        """A term added to D's loss, per member, from D's inputs (packed, as D reads them) and `critic`, D's
        logits for such inputs; `uniform(*shape)` draws from the run's random stream."""
        terms = [
            values(weight, at) / 2 * member_mean(gradient(critic, at).pow(2).sum(dim=-1))
            for weight, at in ((self.r1, real), (self.r2, fake))
            if any(r > 0 for r in as_list(weight))
        ]
        return sum(terms[1:], terms[0]) if terms else None


@dataclass
class Minimax(NonSaturatingBCE):
    """The original minimax game: G minimises log(1 − D(G(z))), which saturates while D wins easily."""

    name: ClassVar[str] = "minimax"

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -bce(fake, 0.0)


@dataclass
class LeastSquares(NonSaturatingBCE):
    """LSGAN (Mao et al., 2017): squared distance of D's output to the labels 1 (real) and 0 (fake)."""

    name: ClassVar[str] = "lsgan"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * member_mean((real - 1) ** 2) + 0.5 * member_mean(fake**2)

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return 0.5 * member_mean((fake - 1) ** 2)


@dataclass
class Hinge(NonSaturatingBCE):
    """Hinge loss (Lim & Ye, 2017; as in SAGAN/BigGAN): D wants real ≥ 1 and fake ≤ −1."""

    name: ClassVar[str] = "hinge"

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return member_mean(F.relu(1 - real)) + member_mean(F.relu(1 + fake))

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -member_mean(fake)


@dataclass
class WassersteinGP(NonSaturatingBCE):
    """WGAN-GP (Gulrajani et al., 2017): a critic's score gap, with its gradient norm pushed to 1 between
    real and fake samples. Its config also sets several critic steps per G update and Adam betas (0, 0.9)."""

    name: ClassVar[str] = "wgan_gp"

    gp_weight: Any = key(10.0, number(at_least=0), "the gradient penalty's weight λ", members=True)

    @property
    def penalized(self) -> bool:
        return True

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return member_mean(fake) - member_mean(real)

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return -member_mean(fake)

    def penalty(self, critic, real: Tensor, fake: Tensor, uniform) -> Tensor:
        mix = uniform(*real.shape[:-1], 1)  # [members, n, 1]
        grad = gradient(critic, mix * real + (1 - mix) * fake)
        penalty = values(self.gp_weight, real) * member_mean((grad.norm(dim=-1) - 1) ** 2)
        r1 = super().penalty(critic, real, fake, uniform)
        return penalty if r1 is None else penalty + r1


@dataclass
class RelativisticPairing(NonSaturatingBCE):
    """RpGAN, the relativistic pairing GAN (Jolicoeur-Martineau, 2019) in R3GAN's form (Huang et al., 2024;
    brownvc/R3GAN, R3GAN/Trainer.py): each real sample is paired with the fake of the same index, and
    D's loss is softplus(−(D(real) − D(fake))), G's softplus(−(D(fake) − D(real))), each a mean over the pairs.
    R3GAN adds R1 and R2 of the same γ (experiment=r3gan)."""

    name: ClassVar[str] = "rpgan"
    g_sees_real: ClassVar[bool] = True

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return member_mean(F.softplus(-(real - fake)))

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        return member_mean(F.softplus(-(fake - real)))


@dataclass
class RelativisticAverage(NonSaturatingBCE):
    """RaGAN, the relativistic average standard GAN (Jolicoeur-Martineau, 2019; AlexiaJM/RelativisticGAN, its
    README's corrected RaSGAN and code/GAN_losses_iter.py): D judges each real sample against the fakes' mean
    score and each fake against the reals' mean, BCE with labels 1 and 0, halved; G the same with the labels
    swapped."""

    name: ClassVar[str] = "ragan"
    g_sees_real: ClassVar[bool] = True

    @staticmethod
    def _relative(real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
        """(real − mean fake, fake − mean real), the means each member's own."""
        mean = lambda x: x.flatten(1).mean(dim=1).view(-1, *([1] * (x.dim() - 1)))  # noqa: E731
        return real - mean(fake), fake - mean(real)

    def d_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        real_vs, fake_vs = self._relative(real, fake)
        return (bce(real_vs, 1.0) + bce(fake_vs, 0.0)) / 2

    def g_loss(self, fake: Tensor, real: Tensor | None = None) -> Tensor:
        real_vs, fake_vs = self._relative(real, fake)
        return (bce(real_vs, 0.0) + bce(fake_vs, 1.0)) / 2
