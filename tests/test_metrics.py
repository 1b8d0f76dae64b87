import math

import pytest
import torch

from curvegan.families.modes import Modes
from curvegan.families.quadratic import Quadratic, fit_a, quadratic_curves
from curvegan.metrics import METRICS, summarize
from curvegan.registry import known_metrics as known

UNIFORM = Quadratic(a_min=1.0, a_max=2.0)
X = UNIFORM.x


def curve_quality(curves, x, family):
    """The family's metrics of one set of curves [n, points] (or several [m, n, points])."""
    quality = family.quality(curves if curves.dim() == 3 else curves[None])
    return {k: v if curves.dim() == 3 else v[0] for k, v in quality.items()}


def real(n=10000, seed=0):
    a = torch.rand(n, generator=torch.Generator().manual_seed(seed)) + 1
    return a, quadratic_curves(a, X)


def floats(quality):
    return {k: v.item() for k, v in quality.items()}


def test_fit_recovers_a_of_real_curves():
    a, curves = real(100)
    assert torch.allclose(fit_a(curves, X), a, atol=1e-5)


def test_real_curves_score_as_real():
    q = floats(curve_quality(real()[1], X, UNIFORM))
    assert q["shape_rmse"] < 1e-5
    assert q["a_w1"] < 0.01  # only sampling noise of 10k draws
    assert q["a_std"] == pytest.approx(1 / math.sqrt(12), abs=0.005)
    assert q["objective"] == pytest.approx(q["shape_rmse"] + q["a_w1"])


def test_collapsed_generator_scores_a_quarter():
    curves = quadratic_curves(torch.full((10000,), 1.5), X)
    q = floats(curve_quality(curves, X, UNIFORM))
    assert q["shape_rmse"] < 1e-5
    assert q["a_w1"] == pytest.approx(0.25, abs=1e-4)
    assert q["a_std"] < 1e-5


def test_noisy_curves_show_their_noise_in_shape_rmse():
    _, curves = real()
    sigma = 0.1
    noisy = curves + sigma * torch.randn(curves.shape, generator=torch.Generator().manual_seed(1))
    q = floats(curve_quality(noisy, X, UNIFORM))
    # fitting one parameter to 16 noisy points leaves about sigma·sqrt(15/16) of RMSE
    assert q["shape_rmse"] == pytest.approx(sigma * math.sqrt(15 / 16), rel=0.05)
    assert q["a_w1"] < 0.02  # the noise hardly moves the fitted a


def test_w1_matches_a_brute_force_integral():
    samples = torch.tensor([1.1, 1.2, 1.25, 1.9, 2.4, 0.8])
    u = (torch.arange(600_000, dtype=torch.float64) + 0.5) / 600_000
    empirical_quantile = samples.double().sort().values[(u * len(samples)).long()]
    brute = (empirical_quantile - (1 + u)).abs().mean().item()
    assert UNIFORM.w1(samples).item() == pytest.approx(brute, abs=1e-5)


def test_every_member_is_scored_on_its_own():
    """Curves [members, n, points] give one value per member, each what that member alone would score."""
    _, good = real(2000)
    collapsed = quadratic_curves(torch.full((2000,), 1.5), X)
    q = curve_quality(torch.stack([good, collapsed, good + 0.1]), X, UNIFORM)
    assert q["a_w1"].shape == (3,)
    alone = curve_quality(collapsed, X, UNIFORM)
    for name in q:
        assert q[name][1].item() == pytest.approx(alone[name].item(), rel=1e-6, abs=1e-7)
    assert q["a_w1"][1] > 0.2 > q["a_w1"][0]


def test_every_family_and_variant_produces_exactly_the_metrics_it_declares():
    import torch

    from curvegan.evaluation import evaluate
    from curvegan.gan import GAN
    from curvegan.registry import extensions

    known()
    for family in extensions("data"):
        for variant in extensions("model/variant"):
            if variant.name == "cgan" and not family.parameters:
                continue
            gan = GAN(family=family(), variant=variant(), members=2)
            produced = evaluate(gan, 50, 0)
            declared = [m.name for m in (*family.metrics, *variant.metrics)]
            if not family.parameters:
                declared = [m for m in declared if m != "code_corr"]
            assert list(produced) == declared, (family.name, variant.name)
            assert all(v.shape == (2,) for v in produced.values())
            assert all(name in METRICS for name in produced)
    assert torch.is_tensor(produced["objective"])


def test_summary_is_the_median_of_members_that_did_not_diverge_and_the_worst_of_them():
    per_member = {"shape_rmse": torch.tensor([0.1, 0.3, 0.2, 9.0]), "a_std": torch.tensor([0.2, 0.3, 0.25, 0.0])}
    kept = torch.tensor([True, True, True, False])
    summary = summarize(per_member, kept)
    assert summary["shape_rmse"] == pytest.approx(0.2) and summary["worst"]["shape_rmse"] == pytest.approx(0.3)
    assert summary["a_std"] == pytest.approx(0.25) and "a_std" not in summary["worst"]  # no better or worse
    assert summarize({"shape_rmse": torch.tensor([0.1, 0.2])}, torch.tensor([True, True]))["shape_rmse"] == (
        pytest.approx(0.15)  # an even number of members: the mean of the middle two
    )


# --- a mixture of modes -------------------------------------------------------------------------------

CENTRES = [1.0 + i / 7 for i in range(8)]
MIXTURE = Modes(modes=CENTRES, mode_std=0.01)


def mixture_curves(centres, n=8000, std=0.01, seed=0):
    gen = torch.Generator().manual_seed(seed)
    which = torch.randint(len(centres), (n,), generator=gen)
    a = torch.tensor(centres)[which] + std * torch.randn(n, generator=gen)
    return quadratic_curves(a, X)


def test_mixture_w1_is_accurate_to_a_thousandth():
    """Against W1 = ∫ |F(x) − G(x)| dx, the distance between the two CDFs, on a grid of 2^19 points."""
    a = torch.rand(3000, generator=torch.Generator().manual_seed(3)) + 1
    x = torch.linspace(0.8, 2.2, 2**19, dtype=torch.float64)
    empirical = torch.searchsorted(a.double().sort().values, x, right=True) / len(a)
    brute = ((empirical - MIXTURE.cdf(x)).abs().mean() * 1.4).item()
    assert MIXTURE.w1(a).item() == pytest.approx(brute, abs=1e-3)
    # real draws from the mixture are close to it; the uniform family is far from it
    real_a = fit_a(mixture_curves(CENTRES), X)
    assert MIXTURE.w1(real_a).item() < 0.01 < MIXTURE.w1(a).item()


def test_real_curves_from_every_mode_capture_them_all():
    q = floats(curve_quality(mixture_curves(CENTRES), X, MIXTURE))
    assert q["modes_captured"] == 8
    assert q["hq_fraction"] == pytest.approx(1.0, abs=0.01)  # 3 std holds 99.7% of each mode
    assert q["mode_kl"] == pytest.approx(0.0, abs=0.01)


def test_curves_from_half_the_modes_capture_half_and_score_log_2():
    q = floats(curve_quality(mixture_curves(CENTRES[::2]), X, MIXTURE))
    assert q["modes_captured"] == 4
    assert q["hq_fraction"] == pytest.approx(1.0, abs=0.01)
    assert q["mode_kl"] == pytest.approx(math.log(2), abs=0.01)


def test_uneven_shares_of_the_modes_score_their_kl_against_uniform():
    """Half the curves in mode 0, a quarter in each of modes 1 and 2: KL = ½ log(½·8) + 2 · ¼ log(¼·8) = 1.5 log 2."""
    curves = torch.cat([mixture_curves(CENTRES[:1], 4000), mixture_curves(CENTRES[1:3], 4000, seed=1)])
    q = floats(curve_quality(curves, X, MIXTURE))
    assert q["modes_captured"] == 3 and q["hq_fraction"] == pytest.approx(1.0, abs=0.01)
    assert q["mode_kl"] == pytest.approx(1.5 * math.log(2), abs=0.01)


def test_curves_between_modes_or_off_the_family_are_not_high_quality():
    between = quadratic_curves(torch.full((1000,), 1.0 + 0.5 / 7), X)  # halfway between two centres
    wobbly = mixture_curves(CENTRES, 1000) + 0.2 * torch.randn(1000, 16, generator=torch.Generator().manual_seed(2))
    for curves in (between, wobbly):
        q = curve_quality(curves, X, MIXTURE)
        assert q["hq_fraction"].item() == 0 and q["modes_captured"].item() == 0
        assert math.isnan(q["mode_kl"].item())  # undefined: written as null in metrics.json


def test_a_mode_counts_as_captured_from_n_over_5m_high_quality_samples_on():
    """240 samples, 8 modes: a mode needs 240 / 40 = 6 high-quality samples; PacGAN's count needs one."""
    from curvegan.metrics import mode_coverage

    nearest = torch.tensor([0] * 6 + [1] * 5 + [2] * 229)[None]  # mode 0: exactly 6; mode 1: 5
    q = mode_coverage(nearest, torch.ones_like(nearest, dtype=torch.bool), modes=8)
    assert q["modes_captured"].item() == 2  # modes 0 and 2, not mode 1
    assert q["pacgan_modes"].item() == 3


def test_the_exact_w1_to_a_uniform_by_hand():
    """One point c against U(0, 1): ∫|c − u| du = (c² + (1 − c)²) / 2; points at the quantile midpoints of
    U(2, 4) are within 1/(4n) of it (each piece's mean gap); scaling the range scales the distance."""
    from curvegan.metrics import w1_to_uniform

    for c in (0.0, 0.3, 0.5, 1.7):
        expected = (c**2 + (1 - c) ** 2) / 2 if 0 <= c <= 1 else abs(c - 0.5)
        assert w1_to_uniform(torch.tensor([c]), 0.0, 1.0).item() == pytest.approx(expected, abs=1e-6)
    n = 100
    midpoints = 2 + 2 * (torch.arange(n) + 0.5) / n
    assert w1_to_uniform(midpoints, 2.0, 4.0).item() == pytest.approx(2 / (4 * n), rel=1e-4)
    a = torch.rand(3, 50)
    assert torch.allclose(w1_to_uniform(a * 3, 0.0, 3.0), 3 * w1_to_uniform(a, 0.0, 1.0), atol=1e-6)


def test_the_quality_comes_in_the_declared_order_whatever_order_a_family_builds_it_in():
    from dataclasses import dataclass

    from curvegan.evaluation import evaluate
    from curvegan.families.quadratic import Quadratic
    from curvegan.gan import GAN

    @dataclass
    class Reversed(Quadratic):
        def quality(self, samples):
            return dict(reversed(list(super().quality(samples).items())))

    gan = GAN(family=Reversed(), members=2)
    assert list(evaluate(gan, 50, 0)) == [m.name for m in Quadratic.metrics]
