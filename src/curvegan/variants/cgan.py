"""A conditional GAN (model=cgan): G(z, p) and D(sample, p), where p is the family's parameter vector (the curves'
a; the cubics' a and b), each parameter scaled from its range to [-1, 1], so G draws the sample for a requested p.

Training conditions each fake on the parameters of a real sample of the same batch (a draw from the data's own
distribution), so D compares real and fake samples for the same p. Its own metric:
- a_rmse: the RMSE between requested parameters (spread evenly over their ranges) and the fitted parameters of
  the samples drawn for them, over every parameter (for the curves, a alone).
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
    options: ClassVar = {
        "a": "draw samples for this a (a one-parameter family, within the range the model was trained on)",
        "params": "draw samples for these parameters, one number each (e.g. params=[1.2,0.3] for the cubics)",
    }
    shown: ClassVar = ("a_rmse",)
    PREVIEW_VALUES: ClassVar[int] = 8  # requested a in the figure, evenly over the range

    def sizes(self, family) -> tuple[int, int, int]:
        return len(family.parameters), len(family.parameters), 0

    @staticmethod
    def scaled(p: Tensor, family) -> Tensor:
        """Parameter vectors [..., P], each parameter's range mapped to [-1, 1]."""
        ranges = family.parameter_ranges()
        if len(ranges) == 1:
            low, high = ranges[0]
            return (p - (low + high) / 2) / ((high - low) / 2)
        low, high = torch.tensor(ranges, dtype=p.dtype, device=p.device).T
        return (p - (low + high) / 2) / ((high - low) / 2)

    @staticmethod
    def spread(family, n: int) -> Tensor:
        """n requests evenly over every parameter's range at once (the diagonal of the box), as `draw` gives them."""
        values = torch.stack([torch.linspace(low, high, n) for low, high in family.parameter_ranges()], dim=-1)
        return values[:, 0] if len(family.parameters) == 1 else values

    def given(self, drawn: Tensor, family, draw) -> Given:
        condition = self.scaled(family.parameter_vector(drawn), family)  # a real sample's of the same batch
        return Given(g=condition, d=condition)

    def fixed(self, n, rng, family, purpose, a: float | None = None, params: list | None = None) -> Fixed:
        if purpose == "preview":  # PREVIEW_VALUES requests in turn, each one's real sample drawn over its samples
            requests = self.spread(family, self.PREVIEW_VALUES)
            grid = requests[torch.arange(n) % self.PREVIEW_VALUES]
            low, high = family.parameter_ranges()[0]
            first = family.parameter_vector(grid)[:, 0]
            scale = (f"requested {family.parameters[0]}", low, high)
            return Fixed(self.conditions(grid, family), labels=first, scale=scale, references=requests)
        if purpose == "sample" and (a is not None or params is not None):
            requested = self.requested(family, a, params)
            conditions = self.conditions(requested.expand(n, *requested.shape[1:]), family)
            return Fixed(conditions, references=requested)  # the requested curve, drawn over the samples
        # Requests drawn from the data's distribution (for the family's metrics), and a second set spread evenly
        # over the ranges beside the same noise (for a_rmse).
        drawn = family.draw((n,), rng)
        spread = self.spread(family, n)
        return Fixed(
            self.conditions(drawn, family), known={"spread": spread, "requests": self.conditions(spread, family)}
        )

    def conditions(self, drawn: Tensor, family) -> Tensor:
        return self.scaled(family.parameter_vector(drawn), family)

    def requested(self, family, a: float | None, params: list | None) -> Tensor:
        """The sampler's request as `draw` gives parameters, [1] or [1, P]; ValueError naming the option."""
        names, ranges = family.parameters, family.parameter_ranges()
        if params is None and len(names) > 1:
            raise ValueError(
                f"a={a}: this family has parameters {', '.join(names)}: give params=[…] ({len(names)} numbers)"
            )
        values = [a] if params is None else list(params)
        given = f"a={a}" if params is None else f"params={values}"
        if len(values) != len(names):
            count = f"{len(names)} number" + ("s" if len(names) > 1 else "")
            raise ValueError(f"{given}: must be {count}, one for each of {', '.join(names)}")
        for name, value, (low, high) in zip(names, values, ranges, strict=True):
            if not low <= value <= high:
                which = f"{name} " if len(names) > 1 else ""
                raise ValueError(
                    f"{given}: {which}must be within the range this model was trained on, [{low:g}, {high:g}]"
                )
        vector = torch.tensor([values], dtype=torch.float32)
        return vector[:, 0] if len(names) == 1 else vector

    def quality(self, samples, requested, known, family):
        error = family.fit_parameters(requested) - family.parameter_vector(known["spread"]).to(requested)
        return {"a_rmse": error.pow(2).flatten(-2).mean(dim=-1).sqrt()}

    def walk(self, steps, latent_dim, span, family):
        """Each parameter over its range first (the others in the middle, noise at 0), then each noise coordinate
        (the parameters in the middle)."""
        ranges = family.parameter_ranges()
        count = len(ranges)
        middle = torch.tensor([(low + high) / 2 for low, high in ranges])
        p = middle.expand(count + latent_dim, steps, count).clone()
        z = torch.zeros(count + latent_dim, steps, latent_dim)
        values = []
        for k, (low, high) in enumerate(ranges):
            p[k, :, k] = torch.linspace(low, high, steps)
            values.append(p[k, :, k])
        for d in range(latent_dim):
            z[count + d, :, d] = torch.linspace(-span, span, steps)
            values.append(z[count + d, :, d])
        labels = [*family.parameters, *[f"z[{d}]" for d in range(latent_dim)]]
        return z, self.scaled(p, family), torch.stack(values), labels

    def requested_quality(self, samples, family, a=None, params=None):
        if a is None and params is None:
            return {}
        requested = family.parameter_vector(self.requested(family, a, params))
        return {"a_rmse": (family.fit_parameters(samples) - requested).pow(2).mean().sqrt()}

    @classmethod
    def check(cls, node, cfg):
        from curvegan.registry import resolve

        family = resolve("family", cfg.data._target_, "data")
        if not family.parameters:
            return (
                "model",
                cls.name,
                f"used with data that has a parameter to condition on (data={family.name} has none)",
            )
        return None
