"""PacGAN's 2-D ring (data=ring): scored as PacGAN's own MetricLogger scores it, on constructed samples and
against a transcription of its loop; and a CPU run end to end (train, TensorBoard, sample, report)."""

import json
import math
import re

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import TINY, compose_config
from curvegan.families.ring import Ring
from curvegan.report import main as report
from curvegan.sample import sample
from curvegan.train import train
from test_sample import sample_cfg

RING = Ring()


def quality(points):
    return {k: v.item() for k, v in RING.quality(points[None]).items()}


def from_modes(modes, n=2500, seed=0):
    gen = torch.Generator().manual_seed(seed)
    which = torch.tensor(modes)[torch.randint(len(modes), (n,), generator=gen)]
    return RING.centres[which] + RING.std * torch.randn(n, 2, generator=gen)


def metric_logger(points: np.ndarray, means: list, variances: list, dis_thre: float = 3.0) -> dict:
    """fjxmlzn/PacGAN synthetic_data_experiments/PacGAN/pacgan/extensions.py, MetricLogger.do, transcribed:
    mode coverage, good points percentage and entropy of coverage."""
    detail_of_coverage = np.zeros(len(means))
    for i in range(points.shape[0]):
        min_dis, min_dis_j = 10000000, -1
        for j in range(len(means)):
            dis_vector = np.array(points[i, :], dtype=float) - np.array(means[j], dtype=float)
            variance_vector = np.array(np.diag(variances[j]), dtype=float)
            dis = math.sqrt(np.sum((dis_vector * dis_vector) / variance_vector))
            if dis < min_dis:
                min_dis, min_dis_j = dis, j
        if min_dis < dis_thre:
            detail_of_coverage[min_dis_j] += 1
    p = detail_of_coverage / np.sum(detail_of_coverage)
    return {
        "mode coverage": float(len(np.nonzero(detail_of_coverage)[0])),
        "good points percentage": float(np.sum(detail_of_coverage)) / float(points.shape[0]),
        "entropy of coverage": float(-np.sum(p[p > 0] * np.log(p[p > 0]))),
    }


def test_the_ring_is_pacgans_eight_normals_on_the_unit_circle():
    means = [np.array([math.cos(i * math.pi * 2 / 8), math.sin(i * math.pi * 2 / 8)]) for i in range(8)]
    assert np.allclose(RING.centres.numpy(), np.array(means), atol=1e-7) and RING.std == 0.01
    drawn = RING.draw((4000,), torch.Generator().manual_seed(0))
    assert quality(drawn)["pacgan_modes"] == 8 and quality(drawn)["hq_fraction"] > 0.98


def test_every_mode_scores_8_modes_hq_1_and_kl_0():
    q = quality(from_modes(list(range(8))))
    assert q["pacgan_modes"] == 8 and q["modes_captured"] == 8
    assert q["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.006)  # 3σ holds 98.9% of a 2-D normal
    assert q["mode_kl"] == pytest.approx(0.0, abs=0.01)


def test_half_the_modes_score_4_and_kl_log_2():
    q = quality(from_modes([0, 2, 4, 6]))
    assert q["pacgan_modes"] == 4 and q["modes_captured"] == 4
    assert q["mode_kl"] == pytest.approx(math.log(2), abs=0.01)


def test_samples_far_from_every_mode_are_not_high_quality():
    q = quality(torch.randn(2500, 2, generator=torch.Generator().manual_seed(1)) * 0.05)  # around the centre
    assert q["hq_fraction"] == 0 and q["pacgan_modes"] == 0 and math.isnan(q["mode_kl"])


def test_one_high_quality_sample_makes_a_mode_pacgans_but_not_the_curve_beds():
    points = torch.cat([from_modes([0, 1, 2, 3, 4, 5, 6], n=2499), RING.centres[7:8]])
    q = quality(points)
    assert q["pacgan_modes"] == 8 and q["modes_captured"] == 7  # one sample is < n/(5·M) = 62.5


def test_the_scores_are_pacgans_own_on_random_points():
    gen = torch.Generator().manual_seed(3)
    points = torch.cat([from_modes([0, 3, 5], n=300), torch.randn(200, 2, generator=gen) * 0.6])
    points[:50] += 0.02 * torch.randn(50, 2, generator=gen)  # some near the 3σ edge
    means = [c.numpy().astype(float) for c in RING.centres.double()]
    reference = metric_logger(points.double().numpy(), means, [0.01**2 * np.eye(2)] * 8)
    q = quality(points)
    assert q["pacgan_modes"] == reference["mode coverage"]
    assert q["hq_fraction"] == pytest.approx(reference["good points percentage"], abs=1e-6)  # float32
    assert q["mode_kl"] == pytest.approx(math.log(8) - reference["entropy of coverage"], abs=1e-6)


def test_a_ring_run_trains_logs_a_scatter_samples_and_reports(tmp_path, capsys):
    run_dir = tmp_path / "run"
    metrics = train(compose_config(*TINY, "data=ring", "ensemble.size=2", "model.pack=2", run_dir=run_dir))
    assert metrics["steps"] == 40 and {"pacgan_modes", "hq_fraction", "mode_kl"} <= set(metrics)
    assert np.load(run_dir / "samples.npy").shape == (2, 500, 2)  # TINY's evaluation.num_samples, 2-D points
    written = json.loads((run_dir / "metrics.json").read_text())
    assert [0 <= m["pacgan_modes"] <= 8 for m in written["members"]] == [True, True]
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert len(events.Images("figures/generated")) == 2 and "1_quality/pacgan_modes" in events.Tags()["scalars"]
    assert len(events.Images("figures/mode_coverage")) == 2  # modes × epochs, each epoch

    out = tmp_path / "points.npy"
    drawn = sample(sample_cfg(ckpt_path=str(run_dir / "checkpoints/last.ckpt"), member=1, out=str(out), n=500))
    assert np.array_equal(np.load(out), np.load(run_dir / "samples.npy")[1]) and "pacgan_modes" in drawn

    report([str(run_dir), "--summary"])
    assert "pacgan_modes median" in capsys.readouterr().out


def test_data_ring_is_scored_on_pacgans_2500_samples_and_refuses_a_curve_key(tmp_path):
    from curvegan.config import ConfigError, validate

    cfg = compose_config("data=ring", run_dir=tmp_path)
    assert cfg.evaluation.num_samples == 2500 and cfg.data.std == 0.01 and cfg.data.modes == 8
    with pytest.raises(ConfigError, match=r"^data.a_min=1.5: not a key of data=ring \(its keys: batch_size"):
        validate(compose_config("data=ring", "+data.a_min=1.5", run_dir=tmp_path))
    with pytest.raises(ConfigError, match=r"^model=cgan: must be used with data that has a parameter"):
        validate(compose_config("data=ring", "model=cgan", run_dir=tmp_path))


GEOMETRY = {  # overrides whose scores would mean nothing: the key the refusal names
    "data=ring data.std=0.5": "data.std",  # neighbours 0.77 apart, scoring balls of 3σ = 1.5
    "data=ring data.modes=100 data.std=0.02": "data.modes",
    "data=ring data.radius=0.01": "data.radius",
    "data=grid data.spacing=0.1": "data.spacing",
    "data=grid data.std=1e-9": "data.std",  # below what float32 holds at modes 4 from 0
    "data=modes data.modes=[1,1,2]": "data.modes",  # coinciding centres
    "data=modes data.modes=[1,1.05]": "data.modes",  # overlapping within 3 mode_std
    "data=modes data.mode_std=0.05": "data.mode_std",
    "data=modes data.modes=[900] data.mode_std=1e-6": "data.mode_std",
}


@pytest.mark.parametrize("overrides", GEOMETRY)
def test_geometry_under_which_the_mode_scores_mean_nothing_is_refused_naming_the_key(overrides, tmp_path, monkeypatch):
    from curvegan import errors
    from curvegan.config import ConfigError, validate

    given = [o.split("=", 1)[0] for o in overrides.split()]
    monkeypatch.setattr(errors, "given_keys", lambda: given)
    with pytest.raises(ConfigError, match=rf"^{re.escape(GEOMETRY[overrides])}=[^:]+: must be "):
        validate(compose_config(*overrides.split(), run_dir=tmp_path))
    assert not any(tmp_path.iterdir())


def test_the_figure_draws_every_scored_point_and_fills_the_modes_pacgan_counts():
    from curvegan.plots import SamplePlot

    ring = Ring()
    g = torch.Generator().manual_seed(0)
    near = ring.centres[torch.tensor([0, 0, 3, 5])] + 0.005 * torch.randn(4, 2, generator=g)  # modes 0, 3, 5
    samples = torch.cat([near, 3 * torch.rand(2496, 2, generator=g) - 1.5])  # 2,500, as PacGAN scores
    plot = SamplePlot(ring, len(samples), style={"legend": "generated"})
    plot.render(samples[None], ["title"])
    dots, modes = plot.artists[0]
    assert len(dots.get_offsets()) == 2500  # every scored point, not a preview of 48
    filled = [face[3] > 0 for face in modes.get_facecolors()]
    assert sum(filled) == ring.quality(samples[None])["pacgan_modes"].item() >= 3
    assert all(filled[k] for k in (0, 3, 5))
    legend = [t.get_text() for t in plot.fig.axes[0].get_legend().get_texts()]
    assert legend == ["generated", "mode hit", "mode missed"]  # marks as drawn: a dot, a filled ring, a hollow one


@pytest.mark.parametrize("family", ["ring", "grid", "modes"])
def test_the_coverage_maps_counts_are_the_ones_the_mode_metrics_count(family):
    """figures/mode_coverage shades each mode by its high-quality samples: the modes it shows with any are PacGAN's
    count, those from n/(5·M) the curve bed's modes_captured."""
    from curvegan.families.grid import Grid
    from curvegan.families.modes import Modes

    fam = {"ring": Ring, "grid": Grid, "modes": Modes}[family]()
    g = torch.Generator().manual_seed(3)
    on_three = fam.samples(fam.centres[torch.randint(3, (600,), generator=g)].float())  # the first three modes
    noise = fam.samples(fam.draw((400,), g)) + torch.randn(400, fam.dim, generator=g)  # off every mode
    samples = torch.cat([on_three, noise])
    counts = fam.mode_counts(samples)
    assert len(fam.mode_labels()) == len(counts) == len(fam.centres)
    assert (counts[:3] >= 150).all() and counts[3:].sum() < 20
    quality = fam.quality(samples[None])
    n, modes = len(samples), len(counts)
    assert counts.sum().item() == round(quality["hq_fraction"].item() * n)
    assert (counts > 0).sum().item() == quality["pacgan_modes"].item()
    assert (counts >= n / (5 * modes)).sum().item() == quality["modes_captured"].item()
