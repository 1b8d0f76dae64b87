"""InfoGAN (model=infogan; Chen et al., 2016): latent codes beside the noise, and a Q head that shares D's body
(D's last layer has its outputs too) and estimates them from a sample; G learns to make the codes recoverable,
and so, unsupervised, to put what varies most (the curves' a) into a code.

`codes` continuous codes c ~ U(-1, 1), whose information loss is the squared error of the estimate (the
log-likelihood under a Gaussian of fixed variance); and, with `categories` > 0, one categorical code (one-hot,
uniform over the categories), whose loss is Q's cross-entropy. Both are weighted by `info_weight` (λ). D's step
trains Q on detached fakes; G's step makes the codes recoverable. Its own metric, for a family with a parameter:
- code_corr: the absolute Spearman rank correlation between a continuous code and the fitted parameter of the
  samples, the largest over the codes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from curvegan.keys import Rule, key, number, whole
from curvegan.metrics import declare
from curvegan.objectives import member_mean
from curvegan.variants import Fixed, Given, Variant

CODE_CORR = declare(
    "code_corr",
    "higher",
    "|Spearman correlation| of a continuous code with the fitted a* (the best code)",
    headline=True,
)
GOLDEN = (math.sqrt(5) - 1) / 2  # i·GOLDEN mod 1: every prefix of the sequence spreads over [0, 1)
CATEGORIES = Rule(
    lambda v: v == 0 or (isinstance(v, int) and not isinstance(v, bool) and v >= 2), "0 (none) or a whole number ≥ 2", 1
)


@dataclass
class InfoGAN(Variant):
    name: ClassVar[str] = "infogan"
    title: ClassVar[str] = "an InfoGAN (model=infogan)"
    metrics: ClassVar = (CODE_CORR,)
    options: ClassVar = {"code": "fix the continuous codes at this value, in [-1, 1]"}
    shown: ClassVar = ("code_corr",)

    codes: int = key(1, whole(0), "continuous codes, each drawn from U(-1, 1)")
    categories: int = key(0, CATEGORIES, "a categorical code with this many values (one-hot); 0: none")
    info_weight: float = key(1.0, number(at_least=0), "λ, the weight of the information loss")

    @property
    def code_size(self) -> int:
        return self.codes + self.categories

    def sizes(self, family) -> tuple[int, int, int]:
        return self.code_size, 0, self.code_size

    def with_codes(self, continuous: Tensor, category: Tensor | None) -> Tensor:
        """G's inputs beside the noise: the continuous codes, the category one-hot."""
        if not self.categories:
            return continuous
        return torch.cat([continuous, torch.nn.functional.one_hot(category, self.categories).to(continuous)], dim=-1)

    def given(self, drawn: Tensor, family, draw) -> Given:
        members, n = drawn.shape[:2]
        continuous = draw((members, n, self.codes), uniform=True) * 2 - 1
        category = (draw((members, n), uniform=True) * self.categories).long() if self.categories else None
        codes = self.with_codes(continuous, category)
        return Given(g=codes, code=codes)

    def aux_loss(self, estimate: Tensor | None, code: Tensor | None) -> Tensor | None:
        codes = self.codes
        loss = member_mean((estimate[..., :codes] - code[..., :codes]) ** 2) if codes else 0
        if self.categories:
            logits, target = estimate[..., codes:], code[..., codes:].argmax(dim=-1)
            entropy = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none")
            loss = loss + member_mean(entropy.view(target.shape))
        return self.info_weight * loss

    def fixed(self, n: int, rng: torch.Generator, family, purpose: str, code: float | None = None) -> Fixed:
        if purpose == "preview":
            # The first continuous code over [-1, 1] (a low-discrepancy sequence: any first k spread over it),
            # the others 0, or the categories in turn; the noise at 0.
            continuous = torch.zeros(n, self.codes)
            if self.codes:
                continuous[:, 0] = (torch.arange(n) * GOLDEN) % 1 * 2 - 1
            category = torch.arange(n) % max(self.categories, 1)
            inputs = self.with_codes(continuous, category)
            if self.codes:
                scale = ("code c[0]", -1.0, 1.0)
                return Fixed(inputs, True, labels=continuous[:, 0], scale=scale, legend="generated, noise at 0")
            return Fixed(inputs, True, labels=category, legend="one colour per category")
        continuous = torch.rand((n, self.codes), generator=rng) * 2 - 1
        category = (torch.rand(n, generator=rng) * self.categories).long() if self.categories else None
        if purpose == "sample" and code is not None:
            if not self.codes:
                raise ValueError(f"code={code}: this checkpoint has no continuous code (model.variant.codes=0)")
            if not -1 <= code <= 1:
                raise ValueError(f"code={code}: must be within [-1, 1], the range the code was trained on")
            inputs = self.with_codes(continuous, category)
            inputs[:, : self.codes] = code
            return Fixed(inputs)
        return Fixed(self.with_codes(continuous, category), known={"code": continuous})

    def quality(self, samples, requested, known, family):
        """For each of the family's parameters, the best code's |rank correlation| with it; their mean."""
        if not self.codes or not family.parameters:
            return {}
        code_rank = standardized(ranks(known["code"].T.to(samples)))  # [codes, n]
        fitted = family.fit_parameters(samples)  # [m, n, P]
        best = []
        for k in range(fitted.shape[-1]):
            p_rank = standardized(ranks(fitted[..., k]))  # [m, n]
            corr = (p_rank[:, None, :] * code_rank[None]).sum(dim=-1) / (p_rank.shape[-1] - 1)  # [m, codes]
            best.append(corr.abs().amax(dim=-1))
        return {"code_corr": best[0] if len(best) == 1 else torch.stack(best).mean(dim=0)}

    def walk(self, steps, latent_dim, span, family):
        """The continuous codes first, each over [-1, 1], then each noise coordinate (codes at 0, category 0)."""
        rows = self.codes + latent_dim
        z, continuous = torch.zeros(rows, steps, latent_dim), torch.zeros(rows, steps, self.codes)
        values = []
        for d in range(rows):
            moving = torch.linspace(-1, 1, steps) if d < self.codes else torch.linspace(-span, span, steps)
            (continuous[d, :, d] if d < self.codes else z[d, :, d - self.codes]).copy_(moving)
            values.append(moving)
        codes = self.with_codes(continuous, torch.zeros(rows, steps, dtype=torch.long))
        labels = [f"c[{d}]" if d < self.codes else f"z[{d - self.codes}]" for d in range(rows)]
        return z, codes, torch.stack(values), labels

    @classmethod
    def check(cls, node, cfg):
        if node.codes + node.categories < 1:
            return "model.variant.codes", node.codes, "≥ 1 when model.variant.categories is 0"
        return None


def standardized(values: Tensor) -> Tensor:
    return (values - values.mean(dim=-1, keepdim=True)) / values.std(dim=-1, keepdim=True)


def ranks(values: Tensor) -> Tensor:
    """The rank of each value along the last axis (0 for the smallest), as floats."""
    return values.argsort(dim=-1).argsort(dim=-1).to(values.dtype)
