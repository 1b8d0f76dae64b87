import math

import pytest
import torch

from curvegan.data import curve_grid, quadratic_curves
from curvegan.metrics import curve_quality, fit_a, w1_to_uniform

X = curve_grid(16)


def real(n=10000, seed=0):
    a = torch.rand(n, generator=torch.Generator().manual_seed(seed)) + 1
    return a, quadratic_curves(a, X)


def test_fit_recovers_a_of_real_curves():
    a, curves = real(100)
    assert torch.allclose(fit_a(curves, X), a, atol=1e-5)


def test_real_curves_score_as_real():
    q = curve_quality(real()[1], X, 1.0, 2.0)
    assert q["shape_rmse"] < 1e-5
    assert q["a_w1"] < 0.01  # only sampling noise of 10k draws
    assert q["a_std"] == pytest.approx(1 / math.sqrt(12), abs=0.005)


def test_collapsed_generator_scores_a_quarter():
    curves = quadratic_curves(torch.full((10000,), 1.5), X)
    q = curve_quality(curves, X, 1.0, 2.0)
    assert q["shape_rmse"] < 1e-5
    assert q["a_w1"] == pytest.approx(0.25, abs=1e-4)
    assert q["a_std"] < 1e-5


def test_noisy_curves_show_their_noise_in_shape_rmse():
    _, curves = real()
    sigma = 0.1
    noisy = curves + sigma * torch.randn(curves.shape, generator=torch.Generator().manual_seed(1))
    q = curve_quality(noisy, X, 1.0, 2.0)
    # fitting one parameter to 16 noisy points leaves about sigma·sqrt(15/16) of RMSE
    assert q["shape_rmse"] == pytest.approx(sigma * math.sqrt(15 / 16), rel=0.05)
    assert q["a_w1"] < 0.02  # the noise hardly moves the fitted a


def test_w1_matches_a_brute_force_integral():
    samples = torch.tensor([1.1, 1.2, 1.25, 1.9, 2.4, 0.8])
    u = (torch.arange(600_000, dtype=torch.float64) + 0.5) / 600_000
    empirical_quantile = samples.double().sort().values[(u * len(samples)).long()]
    brute = (empirical_quantile - (1 + u)).abs().mean().item()
    assert w1_to_uniform(samples, 1.0, 2.0).item() == pytest.approx(brute, abs=1e-5)
