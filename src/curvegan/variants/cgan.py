"""A conditional GAN (model=cgan): G(z, a) and D(sample, a), where a is the family's parameter scaled from its
range to [-1, 1], so G draws the sample for a requested a.

Training conditions each fake on the a of a real sample of the same batch (a draw from the data's own
distribution), so D compares real and fake samples for the same a. Its own metric:
- a_rmse: the RMSE between requested a (spread evenly over the range) and the fitted a* of the samples drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from curvegan.metrics import declare
from curvegan.variants import Fixed, Given, Variant

A_RMSE = declare(
    "a_rmse", "lower", "RMSE of the fitted a* of samples drawn for requested a", headline=True, log_scale=True
)


@dataclass
class Conditional(Variant):
    """G and D both see the family's parameter a."""

    name: ClassVar[str] = "cgan"
    title: ClassVar[str] = "a conditional GAN (model=cgan)"
    metrics: ClassVar = (A_RMSE,)
    options: ClassVar = {"a": "draw samples for this a (within the range the model was trained on)"}
    shown: ClassVar = ("a_rmse",)
    PREVIEW_VALUES: ClassVar[int] = 8  # requested a in the figure, evenly over the range

    @property
    def extra_inputs(self) -> int:
        return 1

    @property
    def condition_features(self) -> int:
        return 1

    @staticmethod
    def scaled(a: Tensor, family) -> Tensor:
        """a [...] → [..., 1], the trained range mapped to [-1, 1]."""
        low, high = family.parameter_range()
        return ((a - (low + high) / 2) / ((high - low) / 2)).unsqueeze(-1)

    def given(self, drawn: Tensor, family, draw) -> Given:
        condition = self.scaled(drawn, family)  # each fake is conditioned on the a of a real sample of its batch
        return Given(g=condition, d=condition)

    def fixed(self, n: int, rng: torch.Generator, family, purpose: str, a: float | None = None) -> Fixed:
        low, high = family.parameter_range()
        if purpose == "preview":  # PREVIEW_VALUES requests in turn, each drawn beneath as the real sample of that a
            grid = torch.linspace(low, high, self.PREVIEW_VALUES)[torch.arange(n) % self.PREVIEW_VALUES]
            return Fixed(self.scaled(grid, family), labels=grid, scale=("requested a", low, high), references=grid)
        if purpose == "sample" and a is not None:
            if not low <= a <= high:
                raise ValueError(f"a={a}: must be within the range this model was trained on, [{low:g}, {high:g}]")
            return Fixed(self.scaled(torch.full((n,), float(a)), family))
        # Requests drawn from the data's distribution (for the family's metrics), and a second set spread evenly
        # over the trained range beside the same noise (for a_rmse).
        drawn = family.draw((n,), rng)
        spread = torch.linspace(low, high, n)
        return Fixed(self.scaled(drawn, family), known={"spread": spread, "requests": self.scaled(spread, family)})

    def quality(self, samples, requested, known, family):
        error = family.fit_parameter(requested) - known["spread"].to(requested)
        return {"a_rmse": error.pow(2).mean(dim=-1).sqrt()}

    def walk(self, steps, latent_dim, span, family):
        """First the condition a over its range (noise at 0), then each noise coordinate (a in the middle)."""
        low, high = family.parameter_range()
        a_values = torch.linspace(low, high, steps)
        z = torch.zeros(latent_dim + 1, steps, latent_dim)
        a = torch.full((latent_dim + 1, steps), (low + high) / 2)
        a[0] = a_values
        values = [a_values]
        for d in range(latent_dim):
            z[d + 1, :, d] = torch.linspace(-span, span, steps)
            values.append(z[d + 1, :, d])
        return z, self.scaled(a, family), torch.stack(values), ["a", *[f"z[{d}]" for d in range(latent_dim)]]

    def requested_quality(self, samples, family, a=None):
        if a is None:
            return {}
        return {"a_rmse": (family.fit_parameter(samples) - a).pow(2).mean().sqrt()}

    @classmethod
    def check(cls, node, cfg):
        from curvegan.registry import resolve

        family = resolve("family", cfg.data._target_, "data")
        if family.parameter is None:
            return (
                "model",
                cls.name,
                f"used with data that has a parameter to condition on (data={family.name} has none)",
            )
        return None
