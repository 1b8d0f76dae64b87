"""The mode-collapse test bed: multi-modal data, PacGAN, a mixture prior, and what TensorBoard shows."""

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import TINY, compose_config
from curvegan.gan import GAN
from curvegan.latents import drawing_from
from curvegan.registry import named
from curvegan.sampling import walk
from curvegan.train import train
from curvegan.variants import Given


def test_pacgan_scores_packs_of_curves():
    gan = GAN(pack=4, members=2)
    assert gan.discriminator.layers[0].weight.shape == (2, 4 * 16, 32)  # D reads 4 curves at once
    logits, _ = gan.scores(torch.randn(2, 32, 16), Given())
    assert logits.shape == (2, 8, 1)  # one score per pack of 4


@pytest.mark.parametrize("objective", sorted(named("objective")))
def test_every_objective_trains_with_packs(tmp_path, objective):
    cfg = compose_config(
        *TINY,
        "data=modes",
        f"objective={objective}",
        "model.pack=4",
        "trainer.max_epochs=1",
        "logger=none",
        "callbacks.monitor.gif_path=null",
        run_dir=tmp_path,
    )
    assert train(cfg)["steps"] == 20


def test_the_mixture_prior_draws_near_evenly_spaced_centres():
    gan = GAN(latent="mixture", latent_modes=5, latent_spread=0.01, latent_dim=3)
    z = gan.prior.sample((20000, 3), drawing_from(torch.Generator().manual_seed(0)))
    centres = torch.linspace(-1, 1, 5)
    distance, nearest = (z[..., None] - centres).abs().min(dim=-1)
    assert distance.max() < 0.06 and torch.bincount(nearest.flatten()).min() > 10000
    assert walk(gan)[1].abs().max() == 1  # a bounded prior is walked over [-1, 1]


def test_a_mixture_run_reports_the_mode_metrics_and_shows_them_in_tensorboard(tmp_path):
    train(compose_config(*TINY, "data=modes", "ensemble.size=2", run_dir=tmp_path))
    written = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("hq_fraction", "modes_captured", "mode_kl"):
        assert key in written and all(key in m for m in written["members"])
    assert [0 <= h["hq_fraction"] <= 1 for h in written["history"]] == [True, True]
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    scalars = set(events.Tags()["scalars"])
    assert {"1_quality/modes_captured", "1_quality/hq_fraction"} <= scalars
    # mode_kl is undefined while no sample lands in a mode: then it is left out, never drawn as a number
    assert ("1_quality/mode_kl" in scalars) == any(h["mode_kl"] is not None for h in written["history"])  # null in JSON
    assert len(events.Images("figures/a_histogram")) == 2  # a* against the modes, each epoch


def test_modes_opening_down_and_up_work_as_an_override(tmp_path):
    cfg = compose_config(*TINY, "data=modes", "data.modes=[-2,-1.5,-1,1,1.5,2]", "logger=none", run_dir=tmp_path)
    metrics = train(cfg)
    assert cfg.data.modes == [-2, -1.5, -1, 1, 1.5, 2]
    assert 0 <= metrics["modes_captured"] <= 6
