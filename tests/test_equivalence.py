"""Training is the classic GAN loop, member by member.

- An ensemble of one, through Lightning with many G updates per training_step, makes the updates of a plain
  PyTorch loop written out by hand over the same data and noise.
- Member k of an ensemble makes the updates of a GAN of its own given the same initial weights, real curves
  and random draws, for every objective, with EMA, lr decay, several D steps and gradient clipping, and for
  the conditional GAN and InfoGAN.
"""

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import CONFIGS
from curvegan.data import RealData
from curvegan.families.quadratic import Quadratic
from curvegan.gan import GAN
from curvegan.objectives import LeastSquares, NonSaturatingBCE, WassersteinGP
from curvegan.registry import named
from curvegan.variants.infogan import InfoGAN

EPOCHS, BATCHES = 2, 150  # 300 G updates


def fit(model, datamodule, precision="32-true"):
    trainer = L.Trainer(
        max_epochs=EPOCHS,
        precision=precision,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, datamodule=datamodule)
    return model


def plain_copy(net) -> nn.Sequential:
    """An ensemble network of one member as the nn.Linear/ReLU stack the seed's code builds."""
    layers = []
    for i, layer in enumerate(net.layers):
        linear = nn.Linear(*layer.weight.shape[1:])
        with torch.no_grad():
            linear.weight.copy_(layer.weight[0].T)
            linear.bias.copy_(layer.bias[0, 0])
        layers += [nn.ReLU(), linear] if i else [linear]
    return nn.Sequential(*layers)


def plain_batches(model):
    """The seed's networks as plain ones, their Adams (curvegan's: fused), the noise stream, and each real batch in
    training's order: (G, D, g_opt, d_opt, noise) once, then every batch [batch, points] of the one member."""
    G, D = plain_copy(model.generator), plain_copy(model.discriminator)
    g_opt = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    d_opt = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    noise = torch.Generator().manual_seed(0)
    dm = RealData(Quadratic(batches_per_epoch=BATCHES), seed=0)
    batches = (real for epoch in range(EPOCHS) for a in dm.epoch_draws(epoch) for real in dm.family.samples(a)[:, 0])
    return (G, D, g_opt, d_opt, noise), batches


def fit_plain(model):
    """The seed's loop, written out by hand over the same data and noise stream (Adam as curvegan's: fused)."""
    (G, D, g_opt, d_opt, noise), batches = plain_batches(model)
    for real in batches:  # [batch, points]: the one member's batch
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
    return G, D


@pytest.mark.parametrize("batches_per_step", [25, 1], ids=["25 updates per step", "1 update per step"])
def test_an_ensemble_of_one_makes_the_updates_of_the_plain_loop(batches_per_step):
    torch.manual_seed(0)
    initial = GAN(seed=0)
    dm = RealData(Quadratic(batches_per_epoch=BATCHES, batches_per_step=batches_per_step), seed=0)
    trained = fit(copy.deepcopy(initial), dm)
    G, D = fit_plain(copy.deepcopy(initial))
    assert not torch.equal(trained.generator.layers[0].weight, initial.generator.layers[0].weight)  # it trained
    for ours, plain in ((trained.generator, G), (trained.discriminator, D)):
        plain_layers = [m for m in plain if isinstance(m, nn.Linear)]
        for layer, linear in zip(ours.layers, plain_layers, strict=True):
            # Not bit for bit: a batched matmul and nn.Linear's may round differently in the last place.
            assert (layer.weight[0].T - linear.weight).abs().max() <= 1e-5
            assert (layer.bias[0, 0] - linear.bias).abs().max() <= 1e-5


# --- member k of an ensemble is a GAN of its own -------------------------------------------------------


class Recording:
    """Mixed into a model: keeps every random draw of training (noise, codes, WGAN-GP's mixing weights),
    each [members, ...]."""

    def on_fit_start(self):
        super().on_fit_start()
        self.draws = []

    def draw(self, shape, uniform=False):
        value = super().draw(shape, uniform)
        self.draws.append(value)
        return value


class Replaying:
    """Mixed into a model: takes member k's share of a recorded ensemble's draws, in order, instead of drawing."""

    def replay(self, draws, member):
        self.queue = [d[member : member + 1] for d in draws]

    def draw(self, shape, uniform=False):
        value = self.queue.pop(0)
        assert value.shape == torch.Size(shape)
        return value


class OneMemberOf(RealData):
    """Member k's share of an ensemble's real curves."""

    def __init__(self, ensemble: RealData, member: int):
        super().__init__(ensemble.family, members=1, seed=ensemble.seed)
        self.ensemble, self.member = ensemble, member

    def epoch_draws(self, epoch, start=0):
        for a in self.ensemble.epoch_draws(epoch, start):
            yield a[:, self.member : self.member + 1]


def objective_settings() -> dict[str, dict]:
    """Every registered objective, with the model settings its own YAML states (WGAN-GP's critic steps and
    betas): a new objective is tested by being registered."""
    import yaml

    settings = {}
    for name, cls in sorted(named("objective").items()):
        stated = yaml.safe_load((CONFIGS / "objective" / f"{name}.yaml").read_text()) or {}
        model = {k: tuple(v) if isinstance(v, list) else v for k, v in stated.get("model", {}).items()}
        settings[name] = {"objective": cls(), **{k: v for k, v in model.items() if k not in ("g_lr", "d_lr")}}
    return settings


SETTINGS = {
    **objective_settings(),
    # every registered variant, at its defaults, with the objective the cGAN's search chose for it
    **{name: {"objective": LeastSquares(), "variant": cls()} for name, cls in sorted(named("model/variant").items())},
    "infogan with a categorical code": {
        "objective": NonSaturatingBCE(),
        "variant": InfoGAN(codes=2, categories=3, info_weight=0.5),
    },
    "packs of 4, WGAN-GP": {"objective": WassersteinGP(), "pack": 4, "d_steps": 2, "betas": (0.0, 0.9)},
    # member-wise hyperparameters: member k of one ensemble makes the updates of a GAN with member k's values
    "member-wise learning rates, betas, EMA, clipping and R1": {
        "objective": NonSaturatingBCE(r1=[0.0, 1.0, 0.5, 2.0]),
        "g_lr": [1e-4, 2e-4, 4e-4, 8e-4],
        "d_lr": [4e-4, 1e-4, 3e-4, 2e-4],
        "betas": [[0.5, 0.999], [0.0, 0.9], [0.8, 0.99], [0.5, 0.9]],
        "g_ema": [0.9, 0.99, 0.95, 0.999],
        "grad_clip": [1.0, 0.5, 0.05, 2.0],
        "lr_decay": True,
    },
    "ema, lr decay, 2 D steps, clipping": {
        "objective": NonSaturatingBCE(),
        "g_ema": 0.99,
        "lr_decay": True,
        "d_steps": 2,
        "grad_clip": 0.05,
    },
}


# The default run keeps the seed's objective and every variant; the other objectives run in make test-slow.
SLOW_SETTINGS = set(named("objective")) - {"bce"}


def one_member(setting: dict, k: int) -> dict:
    """The setting of a GAN of its own as member k of an ensemble trained with `setting`: member k's value of every
    member-wise key given one value per member."""
    import dataclasses

    def own(value):
        if isinstance(value, list) and (isinstance(value[0], list) or len(value) == 4):
            return value[k]
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(
                value, **{f.name: own(getattr(value, f.name)) for f in dataclasses.fields(value)}
            )
        return value

    return {name: own(value) for name, value in setting.items()}


@pytest.mark.parametrize(
    "setting",
    [pytest.param(v, marks=pytest.mark.slow) if k in SLOW_SETTINGS else v for k, v in SETTINGS.items()],
    ids=SETTINGS.keys(),
)
def test_member_k_makes_the_updates_of_a_gan_of_its_own(setting):
    members, k = 4, 2
    # WGAN-GP's Adam has β1 = 0: each step follows the latest gradient alone, and float32's last-place rounding
    # (a batched matmul of 4 members against one of 1) grows chaotically: measured 6e-8 after 150 G updates,
    # 2e-4 after 300. In float64 the same comparison holds the rounding far below the tolerance.
    # RaGAN's losses compare every sample with the batch's mean score, and the same growth shows there: 3e-4 after
    # 300 updates in float32 (measured), so it is compared in float64 too.
    betas = setting.get("betas", (0.5, 0.999))
    first_betas = [b[0] for b in betas] if isinstance(betas[0], list) else [betas[0]]  # member-wise, or one pair
    chaotic = 0 in first_betas or getattr(setting.get("objective"), "name", None) == "ragan"
    precision = "64-true" if chaotic else "32-true"
    torch.manual_seed(0)
    ensemble = type("Recorded", (Recording, GAN), {})(members=members, seed=0, **setting)
    initial = copy.deepcopy(ensemble.state_dict())
    data = RealData(Quadratic(batches_per_epoch=BATCHES), members=members, seed=0)
    fit(ensemble, data, precision)

    single = type("Replayed", (Replaying, GAN), {})(members=1, seed=0, **one_member(setting, k))
    single.load_state_dict(GAN.member_state_dict(initial, k))
    single.replay(ensemble.draws, k)
    fit(single, OneMemberOf(data, k), precision)

    assert not single.queue  # it used every draw member k had
    trained = GAN.member_state_dict(ensemble.state_dict(), k)
    for key, value in single.state_dict().items():
        assert (value.float() - trained[key].float()).abs().max() <= 1e-5, key
    # and the members did not train alike
    weights = ensemble.generator.layers[0].weight
    assert (weights[k] - weights[(k + 1) % members]).abs().max() > 1e-3


# --- the lean path past Lightning's per-call hooks makes the same steps as Lightning's calls -------------------


@pytest.mark.parametrize(
    "settings",
    [{"d_steps": 2, "g_ema": 0.99, "grad_clip": 0.05}, {"lr_decay": True}],
    ids=["several D steps, EMA, clipping", "learning-rate decay"],
)
def test_the_lean_path_and_lightnings_calls_make_identical_updates(settings):
    dm = RealData(Quadratic(batches_per_epoch=BATCHES), seed=0)
    trained = {}
    for lean in (True, False):
        torch.manual_seed(0)
        model = GAN(seed=0, lean_steps=lean, **settings)
        trained[lean] = fit(model, dm)
        assert model.steps.lean is lean
        # Lightning counted every step on both paths
        assert model.trainer.global_step == 300 * (1 + settings.get("d_steps", 1))
    if settings.get("lr_decay"):  # the schedule moved the learning rate on both paths
        assert trained[True].optimizers()[0].param_groups[0]["lr"] < 2e-4
    for key, value in trained[True].state_dict().items():
        assert torch.equal(value, trained[False].state_dict()[key]), key


def test_a_run_with_mixed_precision_takes_its_steps_through_lightning(caplog):
    import logging

    torch.manual_seed(0)
    model = GAN(seed=0)
    with caplog.at_level(logging.DEBUG, logger="curvegan.stepping"):
        trainer = L.Trainer(
            max_steps=4,
            precision="bf16-mixed",
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(model, datamodule=RealData(Quadratic(batches_per_epoch=4, batches_per_step=2)))
    assert not model.steps.lean and "through Lightning's calls (precision bf16-mixed)" in caplog.text


def test_the_lean_path_is_not_taken_where_lightning_no_longer_offers_its_step_hooks(monkeypatch):
    from lightning.pytorch.core.optimizer import LightningOptimizer

    init = LightningOptimizer.__init__

    def without_step_hooks(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self._on_before_step = None  # not callable: as if Lightning no longer had it

    monkeypatch.setattr(LightningOptimizer, "__init__", without_step_hooks)
    torch.manual_seed(0)
    model = fit(GAN(seed=0), RealData(Quadratic(batches_per_epoch=BATCHES), seed=0))
    assert not model.steps.lean and model.trainer.global_step == 600


def test_a_lean_step_that_lightning_does_not_count_stops_the_run_naming_the_setting(monkeypatch):
    from lightning.pytorch.loops.optimization.manual import _ManualOptimization

    monkeypatch.setattr(_ManualOptimization, "_on_after_step", lambda self: None)
    with pytest.raises(RuntimeError, match="run with model.lean_steps=false"):
        fit(GAN(seed=0), RealData(Quadratic(batches_per_epoch=BATCHES), seed=0))


# --- the lean path's Adam step is Adam's own, to the bit --------------------------------------------------------


def seeded(shape, seed: int) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def adam_pair(**options):
    """Two copies of the same parameters, each with its own Adam of `options` and the same first step taken."""
    torch.manual_seed(0)
    shapes = [(3, 10, 32), (3, 1, 32), (3, 32, 16), (3, 1, 16)]
    pair = []
    for _ in range(2):
        params = [nn.Parameter(seeded(shape, i)) for i, shape in enumerate(shapes)]
        pair.append((params, torch.optim.Adam(params, **options)))
    return pair


@pytest.mark.parametrize("betas", [(0.5, 0.999), (0.0, 0.9)], ids=["seed", "wgan_gp"])
def test_the_lean_adam_step_makes_adams_own_steps_to_the_bit(betas):
    from curvegan.stepping import fused_adam_step

    (mine, direct), (theirs, adam) = adam_pair(lr=2e-4, betas=betas, fused=True)
    for step in range(40):
        grads = [seeded(p.shape, 100 * step + i) for i, p in enumerate(mine)]
        for params in (mine, theirs):
            for p, g in zip(params, grads, strict=True):
                p.grad = g.clone()
        if step == 0:  # no state yet: Adam makes it
            assert not fused_adam_step(direct)
            direct.step()
        else:
            assert fused_adam_step(direct)
        adam.step()
        for optimizer in (direct, adam):  # a decaying learning rate, as model.lr_decay sets it
            optimizer.param_groups[0]["lr"] *= 0.9
        if step == 20:  # a resume: the state loaded from a checkpoint replaces the tensors the direct step holds
            saved = copy.deepcopy(adam.state_dict())
            direct.load_state_dict(saved)
            adam.load_state_dict(copy.deepcopy(saved))
    for p, q in zip(mine, theirs, strict=True):
        assert torch.equal(p, q)
        for name in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(direct.state[p][name], adam.state[q][name]), name


@pytest.mark.parametrize(
    "options",
    [{"fused": False}, {"fused": True, "amsgrad": True}, {"fused": True, "maximize": True}],
    ids=["unfused", "amsgrad", "maximize"],
)
def test_the_lean_adam_step_leaves_any_other_adam_to_its_own_step(options):
    from curvegan.stepping import fused_adam_step

    (params, adam), _ = adam_pair(lr=2e-4, **options)
    for p in params:
        p.grad = torch.ones_like(p)
    adam.step()
    before = [p.detach().clone() for p in params]
    assert not fused_adam_step(adam)
    assert all(torch.equal(p, b) for p, b in zip(params, before, strict=True))  # nothing done


def test_without_torchs_private_fused_adam_the_lean_path_takes_adams_own_step_with_the_same_numbers(monkeypatch):
    """torch._fused_adam_ and torch._foreach_add_ are private: a torch without them gets Adam.step, the same
    updates to the bit."""
    dm = RealData(Quadratic(batches_per_epoch=BATCHES), seed=0)
    torch.manual_seed(0)
    fused = fit(GAN(seed=0), dm).state_dict()
    from curvegan import stepping

    monkeypatch.setattr(stepping, "PRIVATE_KERNELS", ("_no_fused_adam_", "_no_foreach_add_"))  # as if absent
    torch.manual_seed(0)
    model = fit(GAN(seed=0), dm)
    assert model.steps.lean
    for key, value in model.state_dict().items():
        assert torch.equal(value, fused[key]), key


def fit_plain_together(model):
    """PacGAN's simultaneous updates written out by hand: one forward pass, D's gradient from D's loss, G's from
    G's, then both steps."""
    (G, D, g_opt, d_opt, noise), batches = plain_batches(model)
    for real in batches:
        fake = G(torch.randn(len(real), 10, generator=noise))
        real_out, fake_out = D(real), D(fake)
        d_loss = F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out)) + (
            F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out))
        )
        g_loss = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
        d_grads = torch.autograd.grad(d_loss, list(D.parameters()), retain_graph=True)
        g_grads = torch.autograd.grad(g_loss, list(G.parameters()))
        for net, grads in ((D, d_grads), (G, g_grads)):
            for p, g in zip(net.parameters(), grads, strict=True):
                p.grad = g
        d_opt.step()
        g_opt.step()
    return G, D


@pytest.mark.parametrize("lean", [True, False], ids=["lean steps", "Lightning's steps"])
def test_simultaneous_updates_are_pacgans_one_forward_pass_by_hand(lean):
    torch.manual_seed(0)
    initial = GAN(seed=0, simultaneous=True, lean_steps=lean)
    trained = fit(copy.deepcopy(initial), RealData(Quadratic(batches_per_epoch=BATCHES), seed=0))
    G, D = fit_plain_together(copy.deepcopy(initial))
    assert trained.g_updates == EPOCHS * BATCHES
    for ours, plain in ((trained.generator, G), (trained.discriminator, D)):
        plain_layers = [m for m in plain if isinstance(m, nn.Linear)]
        for layer, linear in zip(ours.layers, plain_layers, strict=True):
            assert (layer.weight[0].T - linear.weight).abs().max() <= 1e-5
            assert (layer.bias[0, 0] - linear.bias).abs().max() <= 1e-5
    alternating = copy.deepcopy(initial)
    alternating.hparams.simultaneous = False  # the same start, curvegan's alternating steps
    alternating = fit(alternating, RealData(Quadratic(batches_per_epoch=BATCHES), seed=0))
    assert (alternating.generator.layers[0].weight - trained.generator.layers[0].weight).abs().max() > 1e-4
