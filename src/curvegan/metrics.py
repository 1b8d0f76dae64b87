"""Quality of generated curves, measured against the real family y = a·x² + (a−1).

Each curve y is least-squares fitted by a*·b − 1 with b = x² + 1 (every real curve is exactly that):
- shape_rmse: mean over curves of the fit's RMSE; 0 for real curves, so it says how quadratic they are.
- a_w1: 1-Wasserstein distance between the fitted a* and U(a_min, a_max): how well the spread of the
  family is covered (a generator collapsed onto the middle curve scores 0.25 for U(1, 2)).
- a_std: the spread of a* (U(1, 2) has 1/√12 ≈ 0.2887).
"""

from __future__ import annotations

import torch


def fit_a(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The least-squares a* = ⟨y+1, b⟩ / ⟨b, b⟩ of each curve [n, len(x)] → [n]."""
    b = x.to(curves) ** 2 + 1
    return (curves + 1) @ b / (b @ b)


def shape_rmse(curves: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over curves of the RMSE between each curve and its best fit a*·b − 1."""
    b = x.to(curves) ** 2 + 1
    fitted = fit_a(curves, x).unsqueeze(1) * b - 1
    return ((curves - fitted) ** 2).mean(dim=1).sqrt().mean()


def w1_to_uniform(samples: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Exact 1-Wasserstein distance between the empirical distribution of `samples` and U(low, high).

    W1 = ∫₀¹ |F⁻¹(u) − G⁻¹(u)| du, where the empirical quantile F⁻¹ is the i-th smallest sample on
    [i/n, (i+1)/n] and the uniform's G⁻¹ is linear there, so each piece integrates in closed form.
    """
    c = samples.double().sort().values
    n = c.numel()
    width = high - low
    g0 = low + width * torch.arange(n, dtype=torch.float64) / n  # G⁻¹ at the start of each piece
    g1 = g0 + width / n  # ... and at its end
    below = c <= g0
    above = c >= g1
    inside = ~(below | above)
    piece = torch.where(below, (g0 + g1) / 2 - c, c - (g0 + g1) / 2)  # |c − mean g|, when c is outside
    # when g crosses c inside the piece, the area is two triangles
    crossing = ((c - g0) ** 2 + (g1 - c) ** 2) / (2 * (g1 - g0))
    piece = torch.where(inside, crossing, piece)
    return (piece / n).sum().float()


def curve_quality(curves: torch.Tensor, x: torch.Tensor, a_min: float, a_max: float) -> dict[str, float]:
    """shape_rmse, a_w1 and a_std of a set of curves [n, len(x)], as plain floats."""
    curves = curves.detach().float().cpu()
    a = fit_a(curves, x)
    return {
        "shape_rmse": shape_rmse(curves, x).item(),
        "a_w1": w1_to_uniform(a, a_min, a_max).item(),
        "a_std": a.std().item(),
    }
