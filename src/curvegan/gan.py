"""GAN: an ensemble of GANs in one LightningModule, trained with manual optimization. The training loop, and only it.

Every network holds `members` independent GANs as stacked weights (curvegan.nets), every tensor carries the
member axis first, and every loss is per member and summed, so member k trains exactly as a GAN of its own
would; a single run is an ensemble of one. What the real data is comes from the family (curvegan.families),
what G is fed and D reads from the variant (curvegan.variants), how both are scored from the objective; the
networks are config nodes of their own (`model.generator`, `model.discriminator`).
"""

from __future__ import annotations

import copy
import logging
from dataclasses import asdict, dataclass
from typing import Any

import lightning as L
import torch
from torch import Tensor

from curvegan import divergence, nets, registry, stepping
from curvegan.keys import BOOLEAN, SEED, Rule, a_node, choice, key, node, number, optional, settings, whole
from curvegan.latents import PRIORS, Prior
from curvegan.stepping import broadcast_members, clip_per_member
from curvegan.variants import Variant

log = logging.getLogger(__name__)

# The entries of the state dict that carry the member axis first: every network's weights, and the per-member
# divergence record. Everything else (the figures' fixed inputs) is shared.
MEMBER_AXIS = ("generator.", "discriminator.", "generator_ema.", "diverged_at")
NETWORK = a_node("network", "a network (curvegan.nets): a _target_ and its keys")
BETAS = Rule(lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)", [0.5])


def as_node(kind: str, value: Any, where: str) -> dict:
    """A config node for a part given as one (its class looked up among the registered, its keys checked and
    filled in with the defaults: curvegan.registry), or as the object itself (given in code: its class is
    registered)."""
    if isinstance(value, dict):
        return registry.complete_node(kind, value, where)
    return node(registry.register(kind, type(value)), **asdict(value))


@torch.no_grad()
def statistics(updates: list[tuple]) -> Tensor:
    """[k, 4, members]: the G loss, the D loss and D's mean probability on real and on fake samples of k updates,
    made at once (a few operations per training_step, not per update)."""
    g_loss, d_loss, real, fake = (torch.stack(parts) for parts in zip(*updates, strict=True))
    p_real, p_fake = (out.sigmoid().flatten(2).mean(dim=2) for out in (real, fake))
    return torch.stack([g_loss, d_loss, p_real, p_fake], dim=1)


class GAN(L.LightningModule):
    """`members` GANs of one setting, trained side by side on samples of `family`.

    Each `training_step` receives k batches (what they were drawn from [k, members, batch, ...], the samples
    [k, members, batch, dim]) and makes k G updates, each preceded by `d_steps` D updates (`update`). All counts
    a user sees (`g_updates`, the `step` of every logged value) are G updates; Lightning's `global_step` counts
    every optimizer step, (1 + d_steps) per G update.
    """

    what = "the model"

    @dataclass
    class Config:
        latent_dim: int = key(10, whole(1), "noise dimensions")
        latent: str = key("normal", choice(*PRIORS), "noise: normal, uniform on [-1, 1], or mixture (narrow modes)")
        latent_modes: int = key(8, whole(2), "latent=mixture: modes per coordinate, evenly spaced on [-1, 1]")
        latent_spread: float = key(0.02, number(above=0), "latent=mixture: each mode's standard deviation")
        generator: Any = key(node(nets.EnsembleMLP), NETWORK, "G: a network (curvegan.nets) and its keys")
        discriminator: Any = key(node(nets.EnsembleMLP), NETWORK, "D: a network (curvegan.nets) and its keys")
        variant: Any = key(
            node(Variant),
            a_node("variant", "a variant (curvegan.variants)"),
            "what G is fed and D reads (model=cgan, model=infogan)",
        )
        d_steps: int = key(1, whole(1), "D updates before each G update")
        g_lr: float = key(2e-4, number(above=0), "G's Adam learning rate")
        d_lr: float = key(2e-4, number(above=0), "D's Adam learning rate")
        betas: list[float] = key([0.5, 0.999], BETAS, "Adam's betas, for both networks")
        grad_clip: float | None = key(None, optional(number(above=0)), "clip each member's gradient norm to this")
        lr_decay: bool = key(False, BOOLEAN, "true: both learning rates fall linearly to 0 over the run")
        g_ema: float | None = key(None, optional(number(above=0, below=1)), "e.g. 0.999: sample from an EMA of G")
        pack: int = key(1, whole(1), "PacGAN: D scores this many samples at once (data.batch_size a multiple)")
        preview_samples: int = key(48, whole(1), "samples in the per-epoch figure and the GIF")
        log_every_n_updates: int = key(50, whole(1), "train/* values are means over this many G updates")
        lean_steps: bool = key(
            True,
            BOOLEAN,
            "steps past Lightning's per-call hooks where they do nothing (curvegan.stepping); false: never",
        )

    def __init__(self, family: Any = None, members: int = 1, seed: int = 0, objective: Any = None, **config):
        from curvegan.families.quadratic import Quadratic
        from curvegan.objectives import NonSaturatingBCE

        super().__init__()
        # What a checkpoint records is data: every part is built by curvegan.registry (nothing named is imported,
        # every key checked against its rule), never by Hydra's instantiate.
        for name, value, rule in (("members", members, whole(1)), ("seed", seed, SEED)):
            if (allowed := rule(value)) is not None:
                raise registry.NotBuildable(f"{name}={value}: must be {allowed}")
        parts = ("generator", "discriminator", "variant")
        c = settings(GAN, registry.checked(GAN, {k: v for k, v in config.items() if k not in parts}, "model"))
        kinds = {"generator": "network", "discriminator": "network", "variant": "variant"}
        nodes = {n: as_node(kinds[n], config.get(n, getattr(c, n)), f"model.{n}") for n in parts}
        self.save_hyperparameters(
            {
                "family": as_node("family", family if family is not None else Quadratic(), "data"),
                "members": members,
                "seed": seed,
                "objective": as_node(
                    "objective", objective if objective is not None else NonSaturatingBCE(), "objective"
                ),
                **asdict(c),
                **nodes,
            }
        )
        hp = self.hparams
        self.automatic_optimization = False
        self.family = registry.build("family", hp.family, "data")
        self.objective = registry.build("objective", hp.objective, "objective")
        self.variant: Variant = registry.build("variant", hp.variant, "model.variant")
        self.variant.bind(self)
        self.prior = Prior(hp.latent, hp.latent_modes, hp.latent_spread)
        variant, dim = self.variant, self.family.dim
        g_inputs = hp.latent_dim + variant.extra_inputs
        d_inputs, d_outputs = (dim + variant.condition_features) * hp.pack, 1 + variant.code_outputs * hp.pack
        self.generator = registry.build("network", hp.generator, "model.generator", members, g_inputs, dim)
        self.discriminator = registry.build(
            "network", hp.discriminator, "model.discriminator", members, d_inputs, d_outputs
        )
        # An exponential moving average of the generator's weights, used for every sample when set.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if hp.g_ema else None
        # Fixed inputs for the figures (the same for every member), so successive epochs show the same samples.
        preview = variant.preview_inputs(hp.preview_samples, torch.Generator().manual_seed(seed))
        self.register_buffer("preview_noise", preview)
        # The G update at which each member diverged and was frozen; -1 while it trains.
        self.register_buffer("diverged_at", torch.full((members,), -1, dtype=torch.long))
        self._noise_rng: torch.Generator | None = None
        self._noise_rng_state: Tensor | None = None  # restored from a checkpoint, applied at fit start
        self._stats_sum: Tensor | None = None  # training stats [4, members] summed since they were last logged
        self._stats_count = 0
        self.training_values: dict[str, float] = {}  # train/* as last logged (the progress line shows the losses)
        self._any_frozen = False
        self._lean = False  # whether this fit takes its steps on the lean path (decided at fit start)

    @property
    def members(self) -> int:
        return self.hparams.members

    @property
    def g_updates(self) -> int:
        return self.trainer.global_step // (1 + self.hparams.d_steps)

    # --- randomness: all of training's comes from one stream --------------------------------------------

    def draw(self, shape, uniform: bool = False) -> Tensor:
        """Standard normal (or U[0, 1)) numbers from the training stream."""
        if uniform:
            return torch.rand(shape, device=self.device, generator=self._noise_rng)
        return torch.randn(shape, device=self.device, generator=self._noise_rng)

    def noise(self, n: int) -> Tensor:
        """[members, n, latent_dim]: each member its own noise."""
        return self.prior.sample((self.members, n, self.hparams.latent_dim), self.draw)

    def uniform(self, *shape: int) -> Tensor:
        return self.draw(shape, uniform=True)

    # --- D's view -----------------------------------------------------------------------------------------

    def packed(self, features: Tensor) -> Tensor:
        """PacGAN (Lin et al., 2018): D scores `pack` samples at once, concatenated: [members, n, f] →
        [members, n / pack, pack · f]. Seeing several samples together lets D notice a lack of variety."""
        pack = self.hparams.pack
        if pack == 1:
            return features
        members, n, f = features.shape
        return features.reshape(members, n // pack, pack * f)

    def scores(self, samples: Tensor, condition: Any) -> tuple[Tensor, Tensor | None]:
        """D's logits [members, n / pack, 1] for samples [members, n, dim], and Q's code estimates (or None)."""
        return self.variant.split(self.discriminator(self.packed(self.variant.d_input(samples, condition))))

    def critic(self, packed: Tensor) -> Tensor:
        """D's logits for inputs already as D reads them (packed): what a gradient penalty differentiates."""
        return self.variant.split(self.discriminator(packed))[0]

    # --- sampling -----------------------------------------------------------------------------------------

    @property
    def sampler(self) -> torch.nn.Module:
        return self.generator if self.generator_ema is None else self.generator_ema

    @torch.no_grad()
    def generate(self, inputs: Tensor, members: slice | None = None) -> Tensor:
        """The generator's samples (its moving average's, with g_ema; in eval mode) for inputs [n, inputs] shared
        by the chosen members, or [m, n, inputs] one set per member: [m, n, dim], on the module's device."""
        count = len(range(*(members or slice(None)).indices(self.members)))
        if inputs.dim() == 2:
            inputs = inputs.expand(count, *inputs.shape)
        training = self.sampler.training
        self.sampler.eval()
        try:  # in the model's own dtype (trainer.precision=64-true makes it float64; fixed inputs are float32)
            return self.sampler(inputs.to(self.device, next(self.sampler.parameters()).dtype), members)
        finally:
            self.sampler.train(training)

    # --- training -----------------------------------------------------------------------------------------

    def configure_optimizers(self):
        hp = self.hparams
        # One Adam over each stacked tensor is exactly one Adam per member: Adam works element by element.
        # The fused kernel does a whole step in one call: 2.7× faster than the default on one CPU thread.
        g_opt = torch.optim.Adam(self.generator.parameters(), lr=hp.g_lr, betas=tuple(hp.betas), fused=True)
        d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=hp.d_lr, betas=tuple(hp.betas), fused=True)
        if not hp.lr_decay:
            return g_opt, d_opt
        # Both learning rates fall linearly to 0 over the run's G updates (stepped in training_step).
        total = self.trainer.max_epochs * self.family.batches_per_epoch
        schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda n: max(0.0, 1 - n / total)) for o in (g_opt, d_opt)]
        return [g_opt, d_opt], schedules

    def on_fit_start(self) -> None:
        seed = self.hparams.seed + 1_000 * self.global_rank  # each DDP process its own noise
        self._noise_rng = torch.Generator(device=self.device).manual_seed(seed)
        if self._noise_rng_state is not None:
            self._noise_rng.set_state(self._noise_rng_state)
        self._any_frozen = bool((self.diverged_at >= 0).any())
        why_not = "model.lean_steps=false" if not self.hparams.lean_steps else stepping.why_not_lean(self.trainer, self)
        self._lean = why_not is None
        log.debug("optimizer steps: " + ("the lean path" if self._lean else f"through Lightning's calls ({why_not})"))

    def step(self, optimizer, loss: Tensor) -> None:
        """Backward over the members' summed losses, per-member clipping, then the optimizer's step."""
        if self._lean:
            stepping.lean_step(optimizer, loss.sum(), self.adjust_gradients)
        else:
            stepping.lightning_step(self, optimizer, loss.sum(), self.adjust_gradients)

    def adjust_gradients(self, params: list[Tensor]) -> None:
        """A frozen member's gradient is zero (and so, its Adam state zeroed, its step); each member's is clipped."""
        if self._any_frozen:
            alive = self.diverged_at < 0
            for p in params:
                p.grad = torch.where(broadcast_members(alive, p.grad), p.grad, 0.0)
        if self.hparams.grad_clip is not None:
            clip_per_member(params, self.hparams.grad_clip)

    def update(self, real: Tensor, drawn: Tensor, g_opt, d_opt) -> Tensor:
        """One G update and its D updates: `d_steps` D updates on this real batch, then one G update.

        Each D update scores fresh fakes (detached); the G update scores the last of them again, through the
        updated D, labelled as the objective says (the classic GAN training loop).
        Returns what the statistics are made of: the G and D losses [members], D's logits on real and on fake.
        """
        objective, variant = self.objective, self.variant
        for _ in range(self.hparams.d_steps):
            fake, condition, code = variant.fake_batch(drawn)
            real_out, _ = self.scores(real, drawn)
            fake_out, estimate = self.scores(fake.detach(), condition)
            d_loss = objective.d_loss(real_out, fake_out)
            extra = [variant.info_loss(estimate, code)]
            if objective.penalized:
                real_in, fake_in = (self.packed(variant.d_input(s, c)) for s, c in ((real, drawn), (fake, condition)))
                extra.append(objective.penalty(self.critic, real_in, fake_in.detach(), self.uniform))
            self.step(d_opt, sum((e for e in extra if e is not None), d_loss))

        # This backward also fills D's gradients; the next D update clears them before its own.
        g_out, estimate = self.scores(fake, condition)
        g_loss = objective.g_loss(g_out)
        info = variant.info_loss(estimate, code)
        self.step(g_opt, g_loss if info is None else g_loss + info)
        if self.generator_ema is not None:
            self.update_average(g_opt)
        return g_loss, d_loss, real_out, fake_out

    @torch.no_grad()
    def update_average(self, g_opt) -> None:
        """The moving average takes a step towards G's weights (a frozen member's stays); buffers follow G's."""
        weight = 1 - self.hparams.g_ema
        for average, current in zip(self.generator_ema.parameters(), g_opt.param_groups[0]["params"], strict=True):
            if self._any_frozen:
                average.lerp_(current, broadcast_members(self.diverged_at < 0, average) * weight)
            else:
                average.lerp_(current, weight)
        for average, current in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
            average.copy_(current)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        schedules = self.lr_schedulers() if self.hparams.lr_decay else []
        snapshot = [p.detach().clone() for p in self.parameters()]
        steps_before = self.trainer.global_step
        updates = []
        for drawn, real in zip(*batch, strict=True):
            updates.append(self.update(real, drawn, g_opt, d_opt))
            for schedule in schedules:
                schedule.step()
        if self._lean:
            stepping.check_counted(self.trainer, steps_before, len(updates) * (1 + self.hparams.d_steps))
        per_update = statistics(updates)  # [k, 4, members]
        if divergence.freeze_diverged(self, per_update, snapshot, (g_opt, d_opt)):
            self._any_frozen = True
        stats = per_update.nan_to_num().sum(dim=0)
        self._stats_sum = stats if self._stats_sum is None else self._stats_sum + stats
        self._stats_count += len(per_update)
        every = self.hparams.log_every_n_updates
        if self.g_updates // every > (self.g_updates - len(per_update)) // every:
            self.log_training()

    def log_training(self) -> None:
        """The median member's means since they were last logged, as `train/*` at this G update, straight to
        every logger: Lightning's self.log costs about a millisecond a value (its result collection, then a flush
        of every logger each time), for values that nothing in the loop reads. The loggers are flushed once an
        epoch (curvegan.callbacks.Monitor)."""
        means = (self._stats_sum / self._stats_count)[:, self.diverged_at < 0].median(dim=1).values.tolist()
        names = ("train/g_loss", "train/d_loss", "train/p_real", "train/p_fake")
        self.training_values = dict(zip(names, means, strict=True))
        for logger in self.loggers:
            logger.log_metrics(self.training_values, step=self.g_updates)  # the x axis: G updates
        self._stats_sum, self._stats_count = None, 0

    # --- checkpoints ----------------------------------------------------------------------------------

    @staticmethod
    def member_state_dict(state_dict: dict[str, Tensor], member: int) -> dict[str, Tensor]:
        """The state of one member, as a one-member GAN of the same settings holds it."""
        return {
            key: value[member : member + 1] if key.startswith(MEMBER_AXIS) else value
            for key, value in state_dict.items()
        }

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["curvegan_model"] = f"{type(self).__module__}.{type(self).__qualname__}"  # for the sampler
        if self._noise_rng is not None:
            checkpoint["noise_rng_state"] = self._noise_rng.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._noise_rng_state = checkpoint.get("noise_rng_state")

    # --- config -------------------------------------------------------------------------------------------

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        pack, batch = node.pack, cfg.data.batch_size
        if batch % pack:
            return (
                "data.batch_size",
                batch,
                f"a multiple of model.pack ({pack}): D scores the batch in packs of that many",
            )
        precision = cfg.trainer.get("precision")
        if precision in ("16-mixed", "16") and node.grad_clip is not None:
            why = "the gradients are clipped before 16-bit loss scaling is undone"
            return "trainer.precision", precision, f"bf16-mixed or 32-true with model.grad_clip: {why}"
        return None


registry.register("model", GAN)
