"""A conditional GAN (model=cgan): G(z, a) and D(sample, a), where a is the family's parameter scaled from its
range to [-1, 1], so G draws the sample for a requested a.

Training conditions each fake on the a of a real sample of the same batch (a draw from the data's own
distribution), so D compares real and fake samples for the same a. Its own metric:
- a_rmse: the RMSE between requested a (spread evenly over the range) and the fitted a* of the samples drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.metrics import declare
from curvegan.variants import Variant

A_RMSE = declare(
    "a_rmse", "lower", "RMSE of the fitted a* of samples drawn for requested a", headline=True, log_scale=True
)


def colours(values: Tensor, low: float, high: float) -> list:
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    return [cmap((v - low) / (high - low)) for v in values.tolist()]


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
    def range(self) -> tuple[float, float]:
        return self.gan.family.parameter_range()

    @property
    def extra_inputs(self) -> int:
        return 1

    @property
    def condition_features(self) -> int:
        return 1

    def scaled(self, a: Tensor) -> Tensor:
        """a [...] → [..., 1], the trained range mapped to [-1, 1]."""
        low, high = self.range
        return ((a - (low + high) / 2) / ((high - low) / 2)).unsqueeze(-1)

    def with_condition(self, z: Tensor, a: Tensor) -> Tensor:
        return torch.cat([z, self.scaled(a).to(z)], dim=-1)

    def fake_batch(self, drawn: Tensor):
        gan = self.gan
        return gan.generator(self.with_condition(gan.noise(drawn.shape[1]), drawn)), drawn, None

    def d_input(self, samples: Tensor, condition: Any) -> Tensor:
        return torch.cat([samples, self.scaled(condition).to(samples)], dim=-1)

    def preview_grid(self, n: int) -> Tensor:
        low, high = self.range
        return torch.linspace(low, high, self.PREVIEW_VALUES)[torch.arange(n) % self.PREVIEW_VALUES]

    def preview_inputs(self, n: int, rng: torch.Generator) -> Tensor:
        return self.with_condition(self.noise(n, rng), self.preview_grid(n))

    def preview_style(self, n: int) -> dict:
        a = self.preview_grid(n)
        requested = a[: self.PREVIEW_VALUES]
        return {
            "colors": colours(a, *self.range),
            "references": self.gan.family.samples(requested),  # dashed: the true sample of each requested a
            "reference_colors": colours(requested, *self.range),
            "legend": "generated",
            "colorbar": ("requested a", *self.range),
        }

    def evaluation_inputs(self, n: int, seed: int):
        """Requests a drawn from the data's distribution (for the family's metrics), and a second set spread
        evenly over the trained range (for a_rmse), both with noise from `seed`."""
        rng = torch.Generator().manual_seed(seed)
        z = self.noise(n, rng)
        drawn = self.gan.family.draw((n,), rng)
        spread = torch.linspace(*self.range, n)
        return self.with_condition(z, drawn), {"spread": spread, "spread_inputs": self.with_condition(z, spread)}

    def quality(self, samples, known, members):
        drawn = self.gan.generate(known["spread_inputs"], members)
        error = self.gan.family.fit_parameter(drawn) - known["spread"].to(drawn)
        return {"a_rmse": error.pow(2).mean(dim=-1).sqrt()}

    def sample_inputs(self, n, seed, a=None):
        if a is None:
            return self.evaluation_inputs(n, seed)[0]
        low, high = self.range
        if not low <= a <= high:
            raise ValueError(f"a={a}: must be within the range this model was trained on, [{low:g}, {high:g}]")
        z = self.noise(n, torch.Generator().manual_seed(seed))
        return self.with_condition(z, torch.full((n,), float(a)))

    def requested_quality(self, samples, a=None):
        if a is None:
            return {}
        return {"a_rmse": (self.gan.family.fit_parameter(samples) - a).pow(2).mean().sqrt()}

    def walk(self, steps: int = 9):
        """First the condition a over its range (noise at 0), then each noise coordinate (a in the middle)."""
        gan = self.gan
        dims, span = gan.hparams.latent_dim, gan.prior.span
        low, high = self.range
        a_values = torch.linspace(low, high, steps)
        rows, values = [self.with_condition(torch.zeros(steps, dims), a_values)], [a_values]
        for d in range(dims):
            z = torch.zeros(steps, dims)
            z[:, d] = torch.linspace(-span, span, steps)
            rows.append(self.with_condition(z, torch.full((steps,), (low + high) / 2)))
            values.append(z[:, d])
        samples = gan.generate(torch.cat(rows))[0].reshape(dims + 1, steps, -1).cpu()
        return samples, torch.stack(values), ["a", *[f"z[{d}]" for d in range(dims)]]

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
