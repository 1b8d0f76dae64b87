"""Every value validation accepts trains a whole run: at the edges of the keys' rules, and the settings that once
passed validation and crashed later (in a figure, or in Lightning)."""

import math

import pytest

from conftest import TINY, compose_config
from curvegan.train import train

EDGES = [
    "data.num_points=3",
    "data.batch_size=1",
    "data.batches_per_epoch=1 data.batches_per_step=1000",
    "data.a_min=-1e30 data.a_max=1e30",
    "data=modes data.modes=[1000]",
    "data=modes data.modes=[-1000,1000] data.mode_std=9.99",
    "data=modes data.modes=[1,1.07]",  # modes just more than 6 mode_std (0.06) apart
    "data=grid data.side=1",
    "data=ring data.modes=2 data.radius=0.001 data.std=0.0001",
    "model.latent_dim=1 model.latent=mixture model.latent_modes=2",
    "model.generator.hidden=[] model.discriminator.hidden=[]",
    "model.generator.activation=maxout model.generator.pieces=2 model.discriminator.activation=maxout",
    "model.discriminator.activation=maxout model.discriminator.norm=batch",  # the norm over every piece
    "model.generator.norm=batch data.batch_size=1",
    "model.discriminator.norm=batch model.pack=2",
    "model.pack=32",
    "model.betas=[0,0] model.grad_clip=1e-9",
    "model.g_ema=0.999999 model.lr_decay=true",
    "model=infogan model.variant.codes=0 model.variant.categories=2",
    "model=cgan data=modes",
    "model=infogan data=ring",
    "evaluation.num_samples=2 evaluation.generic=false",
    "model.preview_samples=1",
    "ensemble.size=3 callbacks.monitor.members_shown=1",
    "trainer.precision=64-true",
    "trainer.precision=bf16-true",
    "trainer.precision=16-true",
    "trainer.precision=bf16-mixed",
    "trainer.max_steps=1",
    "trainer.limit_train_batches=0.5 data.batches_per_step=5",
    "callbacks.checkpoint.save_top_k=0",
    "callbacks.monitor.every_n_epochs=100",
]


@pytest.mark.slow
@pytest.mark.parametrize("overrides", EDGES)
def test_a_value_validation_accepts_trains_a_whole_run(tmp_path, overrides):
    metrics = train(compose_config(*TINY, "trainer.max_epochs=1", *overrides.split(), run_dir=tmp_path))
    assert math.isfinite(metrics["objective"]) or metrics["diverged"]
    assert (tmp_path / "metrics.json").exists() and (tmp_path / "samples.npy").exists()


def test_a_model_in_another_precision_draws_its_figures_and_samples(tmp_path):
    """trainer.precision=bf16-true makes the networks bfloat16: the figures, samples.npy and the metrics still come."""
    train(compose_config(*TINY, "trainer.max_epochs=1", "trainer.precision=bf16-true", run_dir=tmp_path))
    import numpy as np

    assert np.load(tmp_path / "samples.npy").dtype == np.float32 and (tmp_path / "progress.gif").exists()
