import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_config
from curvegan.objectives import (
    Hinge,
    LeastSquares,
    NonSaturatingBCE,
    RelativisticAverage,
    RelativisticPairing,
    WassersteinGP,
)
from curvegan.registry import named
from curvegan.train import train

OBJECTIVES = named("objective")


@pytest.mark.parametrize("name", sorted(OBJECTIVES))
def test_every_objective_trains_from_its_config(tiny_config, name):
    cfg = tiny_config(f"objective={name}", "logger=none", "trainer.max_epochs=1")
    assert cfg.objective._target_.endswith(OBJECTIVES[name].__name__)
    metrics = train(cfg)
    assert metrics["steps"] == 20
    assert all(math.isfinite(metrics[k]) for k in ("shape_rmse", "a_w1", "a_std"))


def test_wgan_gp_brings_its_own_critic_steps_and_adam_settings():
    cfg = compose_config("objective=wgan_gp", run_dir="/tmp/unused")
    assert cfg.model.d_steps == 5 and list(cfg.model.betas) == [0.0, 0.9] and cfg.objective.gp_weight == 10
    assert compose_config("objective=wgan_gp", "model.d_steps=2", run_dir="/tmp/unused").model.d_steps == 2


def test_objectives_reward_what_they_should_member_by_member():
    """Each D loss is lower when D scores real high and fake low; each G loss is lower when fakes score high.
    Scores are [members, n, 1] and every loss is per member: member 0 is scored well, member 1 badly."""
    high, low = torch.full((8, 1), 3.0), torch.full((8, 1), -3.0)
    real, fake = torch.stack([high, low]), torch.stack([low, high])
    for name, cls in OBJECTIVES.items():
        objective = cls()
        d_loss, g_loss = objective.d_loss(real, fake), objective.g_loss(fake, real)
        assert d_loss.shape == g_loss.shape == (2,), name
        assert d_loss[0] < d_loss[1] and g_loss[1] < g_loss[0], name


def test_gradient_penalty_is_per_member_zero_for_a_unit_slope_critic_and_positive_otherwise():
    objective = WassersteinGP(gp_weight=10.0)
    real, fake = torch.randn(2, 16, 4), torch.randn(2, 16, 4)
    slopes = torch.tensor([[1.0, 0.0, 0.0, 0.0], [3.0, 0.0, 0.0, 0.0]])  # member 0: slope 1, member 1: slope 3

    def critic(curves):  # [members, n, 4] → [members, n, 1]
        return (curves * slopes[:, None]).sum(dim=-1, keepdim=True)

    rng = torch.Generator().manual_seed(0)
    penalty = objective.penalty(critic, real, fake, lambda *shape: torch.rand(shape, generator=rng))
    assert penalty[0].item() == pytest.approx(0.0, abs=1e-6)
    assert penalty[1].item() == pytest.approx(10 * 4.0, rel=1e-5)


def test_tensorboard_gets_a_histogram_of_fitted_a(tiny_config, tmp_path):
    train(tiny_config())
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"histograms": 0}).Reload()
    assert len(events.Histograms("histograms/a_fitted")) == 2
    # D's view of the median member, every epoch: its scores of real and of generated curves
    for side in ("real", "fake"):
        (first, last) = events.Histograms(f"histograms/d_scores_{side}")
        assert first.step < last.step and first.histogram_value.num == 840


def test_experiment_seed_is_the_default_config_spelled_out():
    default = compose_config(run_dir="/tmp/x")
    seed = compose_config("experiment=seed", run_dir="/tmp/x")
    assert seed.data == default.data and seed.model == default.model and seed.trainer == default.trainer


def test_experiment_best_stays_within_6000_g_updates(tiny_config):
    best = compose_config("experiment=best", run_dir="/tmp/x")
    assert best.trainer.max_epochs * best.data.batches_per_epoch <= 6000
    assert best.objective._target_.endswith("LeastSquares") and best.model.latent == "uniform"
    metrics = train(tiny_config("experiment=best", "logger=none", "trainer.max_epochs=1"))
    assert metrics["steps"] == 20


def test_r1_penalises_the_gradient_at_real_curves_per_member():
    objective = NonSaturatingBCE(r1=2.0)
    real, fake = torch.randn(2, 16, 4), torch.randn(2, 16, 4)
    slopes = torch.tensor([[1.0, 0.0, 0.0, 0.0], [3.0, 4.0, 0.0, 0.0]])  # gradient norms 1 and 5

    def critic(curves):
        return (curves * slopes[:, None]).sum(dim=-1, keepdim=True)

    penalty = objective.penalty(critic, real, fake, lambda *shape: torch.rand(shape))
    assert penalty.tolist() == pytest.approx([2.0 / 2 * 1, 2.0 / 2 * 25])
    assert NonSaturatingBCE().penalty(critic, real, fake, None) is None  # off by default
    assert objective.penalized and not LeastSquares().penalized and not Hinge().penalized


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def scores(*values: float) -> torch.Tensor:
    """One member's scores [1, n, 1], as leaves to differentiate."""
    return torch.tensor(values, dtype=torch.float64).view(1, -1, 1).requires_grad_(True)


def test_rpgan_pairs_each_real_with_its_fake_as_r3gan_does_by_hand():
    r, f = [1.0, 2.0], [0.0, 3.0]
    real, fake = scores(*r), scores(*f)
    d_loss = RelativisticPairing().d_loss(real, fake)
    assert d_loss.item() == pytest.approx((softplus(-(1 - 0)) + softplus(-(2 - 3))) / 2)
    d_loss.sum().backward()
    assert real.grad.flatten().tolist() == pytest.approx([-sigmoid(-(a - b)) / 2 for a, b in zip(r, f, strict=True)])
    real, fake = scores(*r), scores(*f)
    g_loss = RelativisticPairing().g_loss(fake, real)
    assert g_loss.item() == pytest.approx((softplus(-(0 - 1)) + softplus(-(3 - 2))) / 2)
    g_loss.sum().backward()
    assert fake.grad.flatten().tolist() == pytest.approx([-sigmoid(-(b - a)) / 2 for a, b in zip(r, f, strict=True)])


def test_ragan_judges_each_side_against_the_others_mean_by_hand():
    r, f = [1.0, 2.0], [0.0, 3.0]
    n, mean_r, mean_f = 2, sum(r) / 2, sum(f) / 2
    real_vs, fake_vs = [a - mean_f for a in r], [b - mean_r for b in f]
    real, fake = scores(*r), scores(*f)
    d_loss = RelativisticAverage().d_loss(real, fake)
    hand = (sum(softplus(-x) for x in real_vs) / n + sum(softplus(x) for x in fake_vs) / n) / 2
    assert d_loss.item() == pytest.approx(hand)
    g_loss = RelativisticAverage().g_loss(fake, real)
    hand = (sum(softplus(x) for x in real_vs) / n + sum(softplus(-x) for x in fake_vs) / n) / 2
    assert g_loss.item() == pytest.approx(hand)
    g_loss.sum().backward()
    # d/df_j: the reals' term moves with mean f (each −1/n), the fakes' term with f_j alone
    by_hand = [(-sum(sigmoid(x) for x in real_vs) / n**2 - sigmoid(-fake_vs[j]) / n) / 2 for j in range(n)]
    assert fake.grad.flatten().tolist() == pytest.approx(by_hand)


def test_r2_penalises_the_gradient_at_fake_samples_per_member():
    objective = NonSaturatingBCE(r1=0.0, r2=4.0)
    real, fake = torch.randn(2, 16, 4), torch.randn(2, 16, 4)
    slopes = torch.tensor([[1.0, 0.0, 0.0, 0.0], [3.0, 4.0, 0.0, 0.0]])  # gradient norms 1 and 5

    def critic(curves):
        return (curves * slopes[:, None]).sum(dim=-1, keepdim=True)

    assert objective.penalized
    assert objective.penalty(critic, real, fake, None).tolist() == pytest.approx([4.0 / 2 * 1, 4.0 / 2 * 25])
    both = NonSaturatingBCE(r1=2.0, r2=4.0).penalty(critic, real, fake, None)
    assert both.tolist() == pytest.approx([(2.0 + 4.0) / 2 * 1, (2.0 + 4.0) / 2 * 25])


def test_a_relativistic_g_loss_sees_the_real_batch_through_the_updated_d(tiny_config, monkeypatch):
    """The G update hands rpgan's g_loss D's scores of the real batch, computed after D's step."""
    from curvegan import gan as gan_module

    seen = []
    original = RelativisticPairing.g_loss

    def spy(self, fake, real=None):
        seen.append(real)
        return original(self, fake, real)

    monkeypatch.setattr(RelativisticPairing, "g_loss", spy)
    train(tiny_config("objective=rpgan", "logger=none", "trainer.max_epochs=1", "~callbacks"))
    assert len(seen) == 20 and all(r is not None and r.shape == (1, 32, 1) and r.requires_grad for r in seen)
    assert gan_module  # the loop is the model's own


@pytest.mark.parametrize("family", ["quadratic", "modes", "ring", "grid"])
@pytest.mark.parametrize("experiment", ["objective=rpgan", "objective=ragan", "experiment=r3gan"])
def test_relativistic_objectives_train_on_every_family(tiny_config, family, experiment):
    metrics = train(tiny_config(f"data={family}", experiment, "logger=none", "trainer.max_epochs=1"))
    assert metrics["steps"] == 20 and math.isfinite(metrics["objective"])
