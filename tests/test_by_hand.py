"""The training step's options against a computation written out here, not against curvegan itself: the EMA's
weight, per-member clipping, the learning-rate decay's schedule; and a resume with other settings refused."""

import sys

import pytest
import torch

from conftest import TINY, compose_config
from curvegan.averaging import moving_average_step
from curvegan.gan import GAN
from curvegan.stepping import clip_per_member
from curvegan.train import cli, train


def ema_from_zero_towards_one(alive=None):
    """A 2-member GAN's moving average at 0 after one step towards G's weights at 1."""
    gan = GAN(seed=0, g_ema=0.9, members=2)
    with torch.no_grad():
        for average, current in zip(gan.generator_ema.parameters(), gan.generator.parameters(), strict=True):
            average.fill_(0.0)
            current.fill_(1.0)
    moving_average_step(gan.generator_ema, list(gan.generator.parameters()), gan.generator, 0.9, alive)
    return list(gan.generator_ema.parameters())


def test_the_moving_average_moves_by_one_minus_g_ema_towards_g():
    for average in ema_from_zero_towards_one():  # 0.9 · 0 + 0.1 · 1
        assert torch.allclose(average, torch.full_like(average, 0.1))


def test_with_a_frozen_member_the_living_members_averages_still_move_and_the_frozen_ones_stays():
    for average in ema_from_zero_towards_one(alive=torch.tensor([False, True])):
        assert torch.allclose(average[0], torch.zeros_like(average[0]))  # member 0 diverged: its average stays
        assert torch.allclose(average[1], torch.full_like(average[1], 0.1))  # member 1 trains on


def test_each_members_gradient_is_clipped_by_its_own_norm_over_all_its_parameters():
    weight = torch.zeros(2, 3, 4, requires_grad=True)
    bias = torch.zeros(2, 1, 4, requires_grad=True)
    weight.grad = torch.zeros(2, 3, 4)
    bias.grad = torch.zeros(2, 1, 4)
    weight.grad[0, 0, 0], bias.grad[0, 0, 0] = 6.0, 8.0  # member 0: norm 10 over both tensors
    weight.grad[1, 0, 0] = 0.3  # member 1: norm 0.3, below the limit
    clip_per_member([weight, bias], max_norm=1.0)
    assert weight.grad[0, 0, 0].item() == pytest.approx(0.6, rel=1e-5)
    assert bias.grad[0, 0, 0].item() == pytest.approx(0.8, rel=1e-5)
    assert weight.grad[1, 0, 0].item() == pytest.approx(0.3)  # untouched: not scaled with member 0


def test_the_learning_rates_fall_linearly_to_zero_over_the_runs_g_updates(tmp_path):
    """After epoch 1 of 2 (20 of 40 G updates, 80 optimizer steps with a D step each), both rates are half."""
    train(compose_config(*TINY, "logger=none", "model.lr_decay=true", "model.d_lr=4e-4", run_dir=tmp_path))
    for name, half in (("epoch000.ckpt", 0.5), ("last.ckpt", 0.0)):
        ckpt = torch.load(tmp_path / "checkpoints" / name, weights_only=True)
        g_rate, d_rate = (state["param_groups"][0]["lr"] for state in ckpt["optimizer_states"])
        assert g_rate == pytest.approx(2e-4 * half) and d_rate == pytest.approx(4e-4 * half), name


def test_resuming_with_other_settings_is_refused_naming_them(monkeypatch, capsys, tmp_path):
    run = tmp_path / "run"
    train(compose_config(*TINY, "logger=none", "trainer.max_epochs=1", run_dir=run))
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
    monkeypatch.setattr(
        sys,
        "argv",
        ["curvegan.train", *TINY, "logger=none", f"hydra.run.dir={run}", "ckpt_path=last", "model.latent_dim=3"],
    )
    with pytest.raises(SystemExit) as exited:
        cli()
    stderr = capsys.readouterr().err
    assert exited.value.code == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert "trained with model.latent_dim=10, this config has 3" in stderr
