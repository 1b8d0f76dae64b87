"""PacGAN's 2-D grid (data=grid): its 25 modes, scored as PacGAN's own MetricLogger scores them, and a CPU run."""

import itertools
import math

import numpy as np
import pytest
import torch

from conftest import TINY, compose_config
from curvegan.families.grid import Grid
from curvegan.train import train
from test_ring import metric_logger

GRID = Grid()


def quality(points):
    return {k: v.item() for k, v in GRID.quality(points[None]).items()}


def from_modes(modes, n=2500, seed=0):
    gen = torch.Generator().manual_seed(seed)
    which = torch.tensor(modes)[torch.randint(len(modes), (n,), generator=gen)]
    return GRID.centres[which] + GRID.std * torch.randn(n, 2, generator=gen)


def test_the_grid_is_pacgans_25_normals():
    means = [np.array([i, j]) for i, j in itertools.product(range(-4, 5, 2), range(-4, 5, 2))]
    assert np.array_equal(GRID.centres.numpy(), np.array(means, dtype=np.float32)) and GRID.std == 0.05


def test_every_mode_scores_25_and_kl_0_half_of_them_12_or_13_and_kl_log_2():
    every = quality(from_modes(list(range(25))))
    assert every["pacgan_modes"] == 25 and every["modes_captured"] == 25
    assert every["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)
    assert every["mode_kl"] == pytest.approx(0.0, abs=0.02)
    half = quality(from_modes(list(range(0, 25, 2))))  # 13 of the 25
    assert half["pacgan_modes"] == 13
    assert half["mode_kl"] == pytest.approx(math.log(25 / 13), abs=0.02)  # ≈ log 2


def test_samples_far_from_every_mode_are_not_high_quality():
    q = quality(GRID.centres[: 2500 // 25].repeat(25, 1) + 1.0)  # between the modes
    assert q["hq_fraction"] == 0 and math.isnan(q["mode_kl"])


def test_the_scores_are_pacgans_own_on_random_points():
    points = torch.cat(
        [from_modes([0, 7, 12, 24], n=300), torch.rand(200, 2, generator=torch.Generator().manual_seed(2)) * 10 - 5]
    )
    means = [c.numpy().astype(float) for c in GRID.centres.double()]
    reference = metric_logger(points.double().numpy(), means, [0.05**2 * np.eye(2)] * 25)
    q = quality(points)
    assert q["pacgan_modes"] == reference["mode coverage"]
    assert q["hq_fraction"] == pytest.approx(reference["good points percentage"], abs=1e-6)
    assert q["mode_kl"] == pytest.approx(math.log(25) - reference["entropy of coverage"], abs=1e-6)


def test_a_grid_run_trains(tmp_path):
    metrics = train(compose_config(*TINY, "data=grid", "logger=none", run_dir=tmp_path))
    assert metrics["steps"] == 40 and 0 <= metrics["pacgan_modes"] <= 25
    assert np.load(tmp_path / "samples.npy").shape == (1, 500, 2)
