"""The seed series' next steps, as CurveGANs that override its hooks and keep its training loop (and ensembles):

- ConditionalCurveGAN (model=cgan): G and D both see a, so G draws the curve for a requested a.
- InfoCurveGAN (model=infogan): a continuous code c ~ U(-1, 1) beside the noise and a Q head on D that
  estimates it; G learns to make c recoverable, and so, unsupervised, to put the family's one parameter in c.
"""

from __future__ import annotations

import math

import matplotlib as mpl
import torch
from torch import Tensor

from curvegan.data import quadratic_curves
from curvegan.families import Family
from curvegan.gan import CurveGAN
from curvegan.metrics import fit_a
from curvegan.objectives import member_mean

GOLDEN = (math.sqrt(5) - 1) / 2  # i·GOLDEN mod 1: every prefix of the sequence spreads over [0, 1)


def colours(values: Tensor, low: float, high: float) -> list:
    cmap = mpl.colormaps["viridis"]
    return [cmap((v - low) / (high - low)) for v in values.tolist()]


class ConditionalCurveGAN(CurveGAN):
    """A conditional GAN: G(z, a) and D(curve, a), a scaled from `condition_range` to [-1, 1].

    Training conditions each fake on the a of a real curve of the same batch (a draw from the data's own
    distribution), so D compares real and fake curves for the same a.
    """

    PREVIEW_VALUES = 8  # requested a in the figure, evenly over the range

    def __init__(self, *args, condition_range: tuple[float, float] = (1.0, 2.0), **kwargs):
        self._range = tuple(condition_range)  # needed while the base class builds the networks
        super().__init__(*args, **kwargs)

    @property
    def generator_inputs(self) -> int:
        return self.hparams.latent_dim + 1

    @property
    def curve_features(self) -> int:
        return self.hparams.num_points + 1

    def scaled(self, a: Tensor) -> Tensor:
        """a [...] → [..., 1], the trained range mapped to [-1, 1]."""
        low, high = self._range
        return ((a - (low + high) / 2) / ((high - low) / 2)).unsqueeze(-1)

    def with_condition(self, z: Tensor, a: Tensor) -> Tensor:
        return torch.cat([z, self.scaled(a).to(z)], dim=-1)

    def fake_batch(self, real_a: Tensor):
        return self.generator(self.with_condition(self.noise(real_a.shape[1]), real_a)), real_a, None

    def d_input(self, curves: Tensor, condition: Tensor | None) -> Tensor:
        return torch.cat([curves, self.scaled(condition).to(curves)], dim=-1)

    def preview_grid(self, n: int) -> Tensor:
        low, high = self._range
        return torch.linspace(low, high, self.PREVIEW_VALUES)[torch.arange(n) % self.PREVIEW_VALUES]

    def preview_inputs(self, n: int, rng: torch.Generator) -> Tensor:
        z = self.latent_from((n, self.hparams.latent_dim), self.drawing_from(rng))
        return self.with_condition(z, self.preview_grid(n))

    def preview_style(self, datamodule, n: int):
        a = self.preview_grid(n)
        x = datamodule.x
        truth = quadratic_curves(a[: self.PREVIEW_VALUES], x)  # dashed: the true curve of each requested a
        return colours(a, *self._range), truth, "generated for a (colour), true (dashed)"

    def evaluation_inputs(self, n: int, seed: int, family: Family):
        """Requests a drawn from the data's distribution (for shape_rmse, a_w1, a_std), and a second set spread
        evenly over the trained range (for a_rmse), both with noise from `seed`."""
        rng = torch.Generator().manual_seed(seed)
        z = self.latent_from((n, self.hparams.latent_dim), self.drawing_from(rng))
        drawn = family.sample((n,), rng)
        spread = torch.linspace(*self._range, n)
        return self.with_condition(z, drawn), {"spread": spread, "spread_inputs": self.with_condition(z, spread)}

    def variant_quality(self, curves, x, family, known, members):
        """a_rmse: the RMSE between requested a (spread over the trained range) and the fitted a* of the curves."""
        drawn = self.generate(known["spread_inputs"], members)
        error = fit_a(drawn, x) - known["spread"].to(drawn)
        return {"a_rmse": error.pow(2).mean(dim=-1).sqrt()}

    def sample_inputs(self, n, seed, family, a=None, code=None):
        if code is not None:
            raise ValueError(f"code={code}: this checkpoint has no latent code; model=infogan has one")
        if a is None:
            return self.evaluation_inputs(n, seed, family)[0]
        low, high = self._range
        if not low <= a <= high:
            raise ValueError(f"a={a}: must be within the range this model was trained on, [{low:g}, {high:g}]")
        z = self.latent_from((n, self.hparams.latent_dim), self.drawing_from(torch.Generator().manual_seed(seed)))
        return self.with_condition(z, torch.full((n,), float(a)))

    def requested_quality(self, curves, x, a):
        return {"a_rmse": (fit_a(curves, x) - a).pow(2).mean().sqrt()}

    def walk(self, steps: int = 9):
        """First the condition a over its range (noise at 0), then each noise coordinate (a in the middle)."""
        dims = self.hparams.latent_dim
        low, high = self._range
        span = self.latent_span
        a_values = torch.linspace(low, high, steps)
        rows = [self.with_condition(torch.zeros(steps, dims), a_values)]
        values = [a_values]
        for d in range(dims):
            z = torch.zeros(steps, dims)
            z[:, d] = torch.linspace(-span, span, steps)
            rows.append(self.with_condition(z, torch.full((steps,), (low + high) / 2)))
            values.append(z[:, d])
        curves = self.generate(torch.cat(rows))[0].reshape(dims + 1, steps, -1).cpu()
        return curves, torch.stack(values), ["a", *[f"z[{d}]" for d in range(dims)]]


class InfoCurveGAN(CurveGAN):
    """InfoGAN (Chen et al., 2016): latent codes beside the noise, and a Q head that shares D's body (D's last
    layer has its outputs too) and estimates them from a curve. `codes` continuous codes c ~ U(-1, 1), whose
    information loss is the squared error of the estimate (the log-likelihood under a Gaussian of fixed
    variance); and, with `categories` > 0, one categorical code (one-hot, uniform over the categories), whose
    loss is Q's cross-entropy. Both are weighted by `info_weight` (λ). D's step trains Q on detached fakes;
    G's step makes the codes recoverable."""

    def __init__(self, *args, codes: int = 1, categories: int = 0, info_weight: float = 1.0, **kwargs):
        self._codes, self._categories = codes, categories
        super().__init__(*args, **kwargs)

    @property
    def code_size(self) -> int:
        return self._codes + self._categories

    @property
    def generator_inputs(self) -> int:
        return self.hparams.latent_dim + self.code_size

    @property
    def discriminator_outputs(self) -> int:
        return 1 + self.code_size * self.hparams.pack  # with packing, estimates for each curve of the pack

    def with_codes(self, z: Tensor, continuous: Tensor, category: Tensor | None) -> Tensor:
        """Generator inputs: the noise, the continuous codes, the category one-hot."""
        parts = [z, continuous]
        if self._categories:
            parts.append(torch.nn.functional.one_hot(category, self._categories).to(z))
        return torch.cat(parts, dim=-1)

    def fake_batch(self, real_a: Tensor):
        n = real_a.shape[1]
        z = self.noise(n)
        continuous = self.draw((self.members, n, self._codes), uniform=True) * 2 - 1
        category = None
        if self._categories:
            category = (self.draw((self.members, n), uniform=True) * self._categories).long()
        inputs = self.with_codes(z, continuous, category)
        return self.generator(inputs), None, inputs[..., self.hparams.latent_dim :]

    def split(self, out: Tensor):
        members, packs, _ = out.shape
        return out[..., :1], out[..., 1:].reshape(members, packs * self.hparams.pack, self.code_size)

    def info_loss(self, estimate: Tensor | None, code: Tensor | None) -> Tensor | None:
        codes = self._codes
        loss = member_mean((estimate[..., :codes] - code[..., :codes]) ** 2) if codes else 0
        if self._categories:
            logits, target = estimate[..., codes:], code[..., codes:].argmax(dim=-1)
            entropy = torch.nn.functional.cross_entropy(logits.flatten(0, 1), target.flatten(), reduction="none")
            loss = loss + member_mean(entropy.view(target.shape))
        return self.hparams.info_weight * loss

    def preview_codes(self, n: int) -> tuple[Tensor, Tensor]:
        """The first continuous code over [-1, 1] (a low-discrepancy sequence: any first k spread over it), the
        others 0; the categories in turn."""
        continuous = torch.zeros(n, self._codes)
        if self._codes:
            continuous[:, 0] = (torch.arange(n) * GOLDEN) % 1 * 2 - 1
        return continuous, torch.arange(n) % max(self._categories, 1)

    def preview_inputs(self, n: int, rng: torch.Generator) -> Tensor:
        """A walk of the first code (or the categories in turn), the noise at 0."""
        return self.with_codes(torch.zeros(n, self.hparams.latent_dim), *self.preview_codes(n))

    def preview_style(self, datamodule, n: int):
        continuous, category = self.preview_codes(n)
        if self._codes:
            return colours(continuous[:, 0], -1.0, 1.0), None, "code c[0] from -1 (purple) to 1 (yellow)"
        cmap = mpl.colormaps["tab10"]
        return [cmap(k % 10) for k in category.tolist()], None, "one colour per category"

    def evaluation_inputs(self, n: int, seed: int, family: Family):
        rng = torch.Generator().manual_seed(seed)
        z = self.latent_from((n, self.hparams.latent_dim), self.drawing_from(rng))
        continuous = torch.rand((n, self._codes), generator=rng) * 2 - 1
        category = (torch.rand(n, generator=rng) * self._categories).long() if self._categories else None
        return self.with_codes(z, continuous, category), {"code": continuous}

    def variant_quality(self, curves, x, family, known, members):
        """code_corr: the absolute Spearman rank correlation between a continuous code and the fitted a* of the
        curves, the largest over the codes (none without continuous codes)."""
        if not self._codes:
            return {}
        a_rank = ranks(fit_a(curves, x))  # [m, n]
        code_rank = ranks(known["code"].T.to(curves))  # [codes, n]
        a_rank = (a_rank - a_rank.mean(dim=-1, keepdim=True)) / a_rank.std(dim=-1, keepdim=True)
        code_rank = (code_rank - code_rank.mean(dim=-1, keepdim=True)) / code_rank.std(dim=-1, keepdim=True)
        corr = (a_rank[:, None, :] * code_rank[None]).sum(dim=-1) / (a_rank.shape[-1] - 1)  # [m, codes]
        return {"code_corr": corr.abs().amax(dim=-1)}

    def sample_inputs(self, n, seed, family, a=None, code=None):
        if a is not None:
            raise ValueError(f"a={a}: this checkpoint is not conditional; model=cgan draws curves for a given a")
        inputs = self.evaluation_inputs(n, seed, family)[0]
        if code is not None:
            if not self._codes:
                raise ValueError(f"code={code}: this checkpoint has no continuous code (model.codes=0)")
            if not -1 <= code <= 1:
                raise ValueError(f"code={code}: must be within [-1, 1], the range the code was trained on")
            dims = self.hparams.latent_dim
            inputs[:, dims : dims + self._codes] = code
        return inputs

    def walk(self, steps: int = 9):
        """The continuous codes first, each over [-1, 1], then each noise coordinate (codes at 0, category 0)."""
        dims, codes = self.hparams.latent_dim, self._codes
        span = self.latent_span
        rows, values, labels = [], [], []
        for d in range(codes + dims):
            z, continuous = torch.zeros(steps, dims), torch.zeros(steps, codes)
            moving = torch.linspace(-1, 1, steps) if d < codes else torch.linspace(-span, span, steps)
            (continuous[:, d] if d < codes else z[:, d - codes]).copy_(moving)
            rows.append(self.with_codes(z, continuous, torch.zeros(steps, dtype=torch.long)))
            values.append(moving)
            labels.append(f"c[{d}]" if d < codes else f"z[{d - codes}]")
        curves = self.generate(torch.cat(rows))[0].reshape(codes + dims, steps, -1).cpu()
        return curves, torch.stack(values), labels


def ranks(values: Tensor) -> Tensor:
    """The rank of each value along the last axis (0 for the smallest), as floats."""
    return values.argsort(dim=-1).argsort(dim=-1).to(values.dtype)
