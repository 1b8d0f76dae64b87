"""The fast path (many G updates per training_step) makes exactly the updates of a plain step-by-step loop."""

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from curvegan.data import QuadraticCurves
from curvegan.gan import CurveGAN

EPOCHS, BATCHES = 2, 150  # 300 G updates


def fit_with_lightning(model, batches_per_step):
    dm = QuadraticCurves(batches_per_epoch=BATCHES, batches_per_step=batches_per_step, seed=0)
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=dm)
    return model


def fit_plain(model):
    """The seed's loop, written out by hand over the same data and noise stream."""
    G, D = model.generator, model.discriminator
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    noise = torch.Generator().manual_seed(0)
    dm = QuadraticCurves(batches_per_epoch=BATCHES, seed=0)
    for epoch in range(EPOCHS):
        for real in dm.epoch_batches(epoch):
            fake = G(torch.randn(len(real), 10, generator=noise))
            real_out, fake_out = D(real), D(fake.detach())
            d_loss = F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out)) + (
                F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
            )
            d_opt.zero_grad()
            d_loss.backward()
            d_opt.step()
            out = D(fake)
            g_loss = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
            g_opt.zero_grad()
            g_loss.backward()
            g_opt.step()
    return model


@pytest.fixture(scope="module")
def initial():
    torch.manual_seed(0)
    return CurveGAN(seed=0)


@pytest.mark.parametrize("batches_per_step", [25, 1], ids=["25 updates per step", "1 update per step"])
def test_lightning_path_matches_the_plain_loop_bit_for_bit(initial, batches_per_step):
    fast = fit_with_lightning(copy.deepcopy(initial), batches_per_step).state_dict()
    plain = fit_plain(copy.deepcopy(initial)).state_dict()
    assert fast["generator.0.weight"].ne(initial.state_dict()["generator.0.weight"]).any()  # it did train
    for key in plain:
        assert torch.equal(fast[key], plain[key]), key
