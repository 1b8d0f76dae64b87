"""The generic metrics (curvegan.generic) match their reference implementations on random sets, and constructed
generators pin what each one means on data whose truth is known."""

import math

import numpy as np
import pytest
import torch

from curvegan.families.modes import Modes
from curvegan.families.quadratic import Quadratic, quadratic_curves
from curvegan.generic import Reference

FAMILY = Quadratic()


def test_precision_recall_density_coverage_are_naeem_et_als_own_on_random_sets():
    prdc = pytest.importorskip("prdc", reason="the reference implementation: pip install prdc")
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(300, 6, generator=gen, dtype=torch.float64)
    fake = torch.stack([torch.randn(250, 6, generator=gen, dtype=torch.float64) * s + s for s in (0.5, 1.0, 2.0)])
    ours = Reference(real, k=5).prdc(fake)
    for member in range(3):
        theirs = prdc.compute_prdc(real.numpy(), fake[member].numpy(), nearest_k=5)
        for name, value in theirs.items():
            assert ours[name][member].item() == pytest.approx(value, abs=1e-6), (member, name)


def test_the_frechet_distance_is_fids_formula_in_float64():
    from scipy import linalg

    gen = torch.Generator().manual_seed(1)
    real = torch.randn(400, 5, generator=gen, dtype=torch.float64) @ torch.randn(
        5, 5, generator=gen, dtype=torch.float64
    )
    fake = torch.stack([torch.randn(300, 5, generator=gen, dtype=torch.float64) * 1.5 + 0.3, real[:300] + 0.1])
    ours = Reference(real).frechet(fake)
    for member in range(2):
        # pytorch-fid's calculate_frechet_distance, on numpy's mean and covariance
        mu1, sigma1 = real.numpy().mean(axis=0), np.cov(real.numpy(), rowvar=False)
        mu2, sigma2 = fake[member].numpy().mean(axis=0), np.cov(fake[member].numpy(), rowvar=False)
        covmean = linalg.sqrtm(sigma1.dot(sigma2)).real
        diff = mu1 - mu2
        expected = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)
        assert ours[member].item() == pytest.approx(expected, abs=1e-6)


def real_curves(n, seed):
    return FAMILY.samples(FAMILY.draw((n,), torch.Generator().manual_seed(seed)))


@pytest.fixture(scope="module")
def reference():
    return Reference(real_curves(2000, 4321))


def scores(reference, *generators):
    return {k: v.tolist() for k, v in reference.quality(torch.stack(generators)).items()}


def test_real_curves_score_near_the_ideal(reference):
    q = scores(reference, real_curves(2000, 7))
    assert q["frechet"][0] < 0.02  # finite samples: 2,000 against 2,000
    assert q["precision"][0] > 0.9 and q["recall"][0] > 0.9
    assert q["density"][0] == pytest.approx(1.0, abs=0.1)
    assert q["coverage"][0] == pytest.approx(1 - 0.5**5, abs=0.03)  # a real sample's ball misses all fakes: 1/2^k


def test_the_middle_curve_alone_is_precise_but_recalls_and_covers_little(reference):
    middle = quadratic_curves(torch.full((2000,), 1.5), FAMILY.x)
    q = scores(reference, middle)
    assert q["precision"][0] == 1.0  # every sample is a real curve
    assert q["recall"][0] < 0.01 and q["coverage"][0] < 0.05  # one curve of the family: the rest is missed


def test_precision_falls_as_noise_is_added_to_real_curves_while_the_frechet_distance_hardly_notices(reference):
    """Real curves fill a one-dimensional manifold, so a real curve's 5th neighbour is close (a median 0.0067 in
    y): noise of 0.005 per point puts nearly every curve outside every ball. The Gaussians fitted to the samples
    hardly move."""
    noisy = [
        real_curves(2000, 8) + s * torch.randn(2000, 16, generator=torch.Generator().manual_seed(9))
        for s in (0.001, 0.002, 0.005)
    ]
    q = scores(reference, *noisy)
    assert q["precision"][0] > 0.9 > q["precision"][1] > 0.3 > 0.05 > q["precision"][2]
    assert max(q["frechet"]) < 0.02 and min(q["recall"]) > 0.95


def test_dropping_half_the_modes_halves_coverage():
    modes = Modes()
    ref = Reference(modes.samples(modes.draw((2000,), torch.Generator().manual_seed(1))))
    centres = modes.centres.float()
    which = torch.arange(2000) % 4 * 2  # modes 0, 2, 4, 6
    half = modes.samples(
        centres[which] + modes.mode_std * torch.randn(2000, generator=torch.Generator().manual_seed(2))
    )
    q = scores(ref, half)
    assert q["coverage"][0] == pytest.approx(0.5, abs=0.06) and q["precision"][0] > 0.9


def test_a_run_records_the_generic_metrics_everywhere_a_metric_goes(tmp_path):
    import json

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from conftest import TINY, compose_config
    from curvegan.train import train

    metrics = train(compose_config(*TINY, "evaluation.reference_samples=300", run_dir=tmp_path))
    written = json.loads((tmp_path / "metrics.json").read_text())
    for name in ("frechet", "precision", "recall", "density", "coverage"):
        assert math.isfinite(metrics[name]) and name in written["members"][0] and name in written["declarations"]
    scalars = EventAccumulator(str(tmp_path / "tensorboard")).Reload().Tags()["scalars"]
    # their own section; on curves the four that are flat there (docs/metrics.md) only when asked for
    assert "generic/frechet" in scalars and not {"generic/coverage", "generic/precision"} & set(scalars)
    asked = ("evaluation.reference_samples=300", "callbacks.monitor.degenerate_metrics=true", "trainer.max_epochs=1")
    train(compose_config(*TINY, *asked, run_dir=tmp_path / "all"))
    scalars = EventAccumulator(str(tmp_path / "all" / "tensorboard")).Reload().Tags()["scalars"]
    assert {f"generic/{name}" for name in ("precision", "recall", "density", "coverage")} <= set(scalars)
    off = train(compose_config(*TINY, "evaluation.generic=false", "logger=none", run_dir=tmp_path / "off"))
    assert "frechet" not in off and off["shape_rmse"] == metrics["shape_rmse"]  # a switch that changes nothing else


@pytest.mark.parametrize("setting", ["auto", True, False])
def test_generic_auto_leaves_the_epochs_of_64_members_out_and_never_the_final_record(setting):
    from curvegan.config import GENERIC_EVERY_EPOCH_BELOW
    from curvegan.evaluation import Evaluator
    from curvegan.gan import GAN

    settings = {"num_samples": 200, "seed": 1, "reference_samples": 200, "reference_seed": 2, "neighbours": 5}
    evaluate = Evaluator(settings | {"generic": setting})
    for members in (GENERIC_EVERY_EPOCH_BELOW - 1, GENERIC_EVERY_EPOCH_BELOW):
        gan = GAN(members=members)
        at_epoch, at_end = ("frechet" in evaluate(gan, epoch=epoch) for epoch in (True, False))
        assert at_end is (setting is not False)
        assert at_epoch is (setting is True or (setting == "auto" and members < GENERIC_EVERY_EPOCH_BELOW))
