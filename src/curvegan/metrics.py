"""Quality of generated curves, measured against the real family y = a·x² + (a−1), per ensemble member.

Each curve y is least-squares fitted by a*·b − 1 with b = x² + 1 (every real curve is exactly that):
- shape_rmse: mean over curves of the fit's RMSE; 0 for real curves, so it says how quadratic they are.
- a_w1: 1-Wasserstein distance between the fitted a* and the data's own distribution of a: how well the
  family is covered (a generator collapsed onto the middle curve scores 0.25 for U(1, 2)).
- a_std: the spread of a* (U(1, 2) has 1/√12 ≈ 0.2887).
- objective: shape_rmse + a_w1, what sweeps minimise.
- collapsed (per member, in metrics.json): a_std below COLLAPSED_BELOW of the data's own spread.
For a mixture of modes (data=modes), also, as in VEEGAN and PacGAN:
- hq_fraction: the share of curves whose a* lies within 3·mode_std of its nearest centre and whose own fit
  RMSE is at most 0.05 ("high quality");
- modes_captured: the centres that are the nearest centre of at least n/(5·M) high-quality curves;
- mode_kl: KL(p ‖ uniform) in nats, p the share of each centre among the high-quality curves (NaN, written as
  null, when no curve is high quality).
Every function takes curves [..., n, points] and returns one value per leading index (per member).
"""

from __future__ import annotations

import math

import torch

from curvegan.families import Family, NormalMixture

HQ_RESIDUAL = 0.05  # a high-quality curve is at most this far (RMSE) from the nearest real curve
# A member has collapsed when its curves spread a* less than this share of the data's own spread: for U(1, 2)
# that is a_std < 0.25 against the family's 0.289, a generator covering about 87% of the family.
COLLAPSED_BELOW = 0.866

# Which way is worse, for "worst over members": the largest value, or the smallest.
WORST_IS_LARGEST = {"shape_rmse": True, "a_w1": True, "objective": True, "mode_kl": True, "a_rmse": True}
WORST_IS_LARGEST |= {"hq_fraction": False, "modes_captured": False, "code_corr": False}


def fit_a(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The least-squares a* = ⟨y+1, b⟩ / ⟨b, b⟩ of each curve [..., len(x)] → [...]."""
    b = x.to(curves) ** 2 + 1
    return (curves + 1) @ b / (b @ b)


def residuals(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Each curve's RMSE from its best fit a*·b − 1: [..., len(x)] → [...]."""
    b = x.to(curves) ** 2 + 1
    fitted = fit_a(curves, x).unsqueeze(-1) * b - 1
    return ((curves - fitted) ** 2).mean(dim=-1).sqrt()


def shape_rmse(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over curves of each curve's RMSE from its best fit: [..., n, points] → [...]."""
    return residuals(curves, x).mean(dim=-1)


def mode_metrics(a: torch.Tensor, residual: torch.Tensor, family: NormalMixture) -> dict[str, torch.Tensor]:
    """hq_fraction, modes_captured and mode_kl of curves with fitted a [..., n] and fit RMSEs [..., n]."""
    centres = family.centres.to(a)
    distance = (a.unsqueeze(-1) - centres).abs()  # [..., n, M]
    nearest_distance, nearest = distance.min(dim=-1)
    high_quality = (nearest_distance <= 3 * family.mode_std) & (residual <= HQ_RESIDUAL)
    n, modes = a.shape[-1], len(centres)
    counts = torch.zeros(*a.shape[:-1], modes, device=a.device).scatter_add_(-1, nearest, high_quality.float())
    total = counts.sum(dim=-1, keepdim=True)
    p = counts / total  # NaN where no curve is high quality
    kl = torch.where(p > 0, p * (p * modes).log(), 0.0).sum(dim=-1)
    return {
        "hq_fraction": high_quality.float().mean(dim=-1),
        "modes_captured": (counts >= n / (5 * modes)).sum(dim=-1).float(),
        "mode_kl": torch.where(total.squeeze(-1) > 0, kl, math.nan),
    }


def curve_quality(curves: torch.Tensor, x: torch.Tensor, family: Family) -> dict[str, torch.Tensor]:
    """Every quality metric of curves [..., n, points], each [...] (one value per member)."""
    curves = curves.detach().float()
    a = fit_a(curves, x)
    residual = residuals(curves, x)
    quality = {"shape_rmse": residual.mean(dim=-1), "a_w1": family.w1(a), "a_std": a.std(dim=-1)}
    quality["objective"] = quality["shape_rmse"] + quality["a_w1"]
    if isinstance(family, NormalMixture):
        quality |= mode_metrics(a, residual, family)
    return quality


def summarize(per_member: dict[str, torch.Tensor], kept: torch.Tensor) -> dict:
    """Each metric's median over the kept members (those that did not diverge), and under "worst" the worst
    kept member's value of each metric that has a direction. A NaN (mode_kl with no high-quality curve)
    counts as the worst value there is."""
    top, worst = {}, {}
    for name, values in per_member.items():
        values = values[kept].double()
        if name in WORST_IS_LARGEST:
            largest = WORST_IS_LARGEST[name]
            values = values.nan_to_num(nan=math.inf if largest else -math.inf)
            worst[name] = (values.max() if largest else values.min()).item()
        top[name] = values.quantile(0.5).item()
    return {**top, "worst": worst}
