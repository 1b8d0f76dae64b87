"""GAN: an ensemble of GANs in one LightningModule, trained with manual optimization. The training loop, and only it.

Every network holds `members` independent GANs as stacked weights (curvegan.nets), every tensor carries the
member axis first, and every loss is per member and summed, so member k trains exactly as a GAN of its own
would; a single run is an ensemble of one. What the real data is comes from the family (curvegan.families),
what G is fed and D reads from the variant (curvegan.variants), how both are scored from the objective; the
networks are config nodes of their own (`model.generator`, `model.discriminator`). The rest lives in modules
named for what they do: the random stream (curvegan.streams), packing (curvegan.packing), the moving average
(curvegan.averaging), frozen members (curvegan.divergence), the step dispatch (curvegan.stepping) and the
training log (curvegan.training_log).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from torch import Tensor

from curvegan import divergence, memberwise, nets, parts, registry, sampling, stepping
from curvegan.averaging import moving_average_step
from curvegan.blocks import blocks_of
from curvegan.keys import BOOLEAN, Rule, a_node, choice, key, node, number, optional, whole
from curvegan.latents import PRIORS, Prior
from curvegan.packing import packed
from curvegan.stepping import clip_per_member
from curvegan.streams import Stream
from curvegan.training_log import TrainingLog, statistics
from curvegan.variants import Given, Variant

NETWORK = a_node("network", "a network (curvegan.nets): a _target_ and its keys")
BETAS = Rule(lambda v: len(v) == 2 and all(0 <= b < 1 for b in v), "two numbers in [0, 1)", [0.5], over=[0.5, 1.0])


@dataclass
class ModelKeys:
    """The model's keys (model.*: configs/model/mlp.yaml starts from them)."""

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
    simultaneous: bool = key(
        False,
        BOOLEAN,
        "true: D and G stepped together from one forward pass, each by its own loss (PacGAN's code, ALI's algorithm)",
    )
    g_lr: Any = key(2e-4, number(above=0), "G's Adam learning rate", members=True)
    d_lr: Any = key(2e-4, number(above=0), "D's Adam learning rate", members=True)
    betas: Any = key([0.5, 0.999], BETAS, "Adam's betas, for both networks", members=True)
    grad_clip: Any = key(None, optional(number(above=0)), "clip each member's gradient norm to this", members=True)
    lr_decay: bool = key(False, BOOLEAN, "true: both learning rates fall linearly to 0 over the run")
    g_ema: Any = key(None, optional(number(above=0, below=1)), "e.g. 0.999: sample from an EMA of G", members=True)
    pack: int = key(1, whole(1), "PacGAN: D scores this many samples at once (data.batch_size a multiple)")
    preview_samples: int = key(48, whole(1), "samples in the per-epoch figure and the GIF")
    log_every_n_updates: int = key(50, whole(1), "2_train/* values are means over this many G updates")
    lean_steps: bool = key(
        True,
        BOOLEAN,
        "steps past Lightning's per-call hooks where they do nothing (curvegan.stepping); false: never",
    )


class GAN(L.LightningModule):
    """`members` GANs of one setting, trained side by side on samples of `family`.

    Each `training_step` receives k batches (what they were drawn from [k, members, batch, ...], the samples
    [k, members, batch, dim]) and makes k G updates, each preceded by `d_steps` D updates (`update`). All counts
    a user sees (`g_updates`, the `step` of every logged value) are G updates; Lightning's `global_step` counts
    every optimizer step, (1 + d_steps) per G update.
    """

    what = "the model"

    Config = ModelKeys  # its keys (model.*)

    def __init__(
        self, family: Any = None, members: int = 1, seed: Any = 0, objective: Any = None, blocks: Any = None, **config
    ):
        super().__init__()
        # What a checkpoint records is data: every part is built by curvegan.registry from checked keys (nothing a
        # node names is imported), never by Hydra's instantiate.
        self.save_hyperparameters(parts.hyperparameters(GAN, family, members, seed, objective, blocks, config))
        hp = self.hparams
        self.runs = blocks_of(hp.seed, members, hp.blocks)  # (seed, members) of each block
        self.automatic_optimization = False
        self.family = registry.build("family", hp.family, "data")
        self.objective = registry.build("objective", hp.objective, "objective")
        self.variant: Variant = registry.build("variant", hp.variant, "model.variant")
        self.prior = Prior(hp.latent, hp.latent_modes, hp.latent_spread)
        variant, dim = self.variant, self.family.dim
        g_extra, d_extra, self.codes = variant.sizes(self.family)
        g_inputs = hp.latent_dim + g_extra
        d_inputs, d_outputs = (dim + d_extra) * hp.pack, 1 + self.codes * hp.pack
        self.generator = registry.build("network", hp.generator, "model.generator", members, g_inputs, dim)
        self.discriminator = registry.build(
            "network", hp.discriminator, "model.discriminator", members, d_inputs, d_outputs
        )
        if len(self.runs) > 1:  # each block's initial weights as its seed makes them alone
            parts.initialise_blocks(self, self.runs, g_inputs, d_inputs, d_outputs)
        # An exponential moving average of the generator's weights, used for every sample when set.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if hp.g_ema else None
        # Fixed inputs for the figures (the same for every member), so successive epochs show the same samples.
        preview, self.preview = sampling.fixed_inputs(
            self, hp.preview_samples, torch.Generator().manual_seed(self.runs[0][0])
        )
        self.register_buffer("preview_noise", preview)
        # The G update at which each member diverged and was frozen; -1 while it trains.
        self.register_buffer("diverged_at", torch.full((members,), -1, dtype=torch.long))
        self.stream = Stream()  # all of training's random numbers
        self.training_log = TrainingLog(hp.log_every_n_updates)
        self.steps = stepping.Steps()  # the lean path or Lightning's calls (chosen at fit start)
        self.seconds_before = 0.0  # the training time of the starts before this one (its checkpoint's)
        self.started: float | None = None  # when this start's fit began (set by curvegan.train.fit)
        self._any_frozen = False

    @property
    def members(self) -> int:
        return self.hparams.members

    @property
    def g_updates(self) -> int:
        return self.trainer.global_step // (1 + self.hparams.d_steps)

    # --- randomness: all of training's comes from one stream --------------------------------------------

    def draw(self, shape, uniform: bool = False) -> Tensor:
        """Standard normal (or U[0, 1)) numbers from the training stream."""
        return self.stream.draw(shape, self.device, uniform)

    def noise(self, n: int) -> Tensor:
        """[members, n, latent_dim]: each member its own noise."""
        return self.prior.sample((self.members, n, self.hparams.latent_dim), self.draw)

    def uniform(self, *shape: int) -> Tensor:
        return self.draw(shape, uniform=True)

    # --- D's view -----------------------------------------------------------------------------------------

    def packed(self, features: Tensor) -> Tensor:
        """D's input for features [members, n, f]: packs of `pack` samples (curvegan.packing)."""
        return packed(features, self.hparams.pack)

    def d_input(self, samples: Tensor, given: Given) -> Tensor:
        """What D reads, packed: each sample [members, n, dim] with what the variant gives D beside it."""
        return self.packed(samples if given.d is None else torch.cat([samples, given.d.to(samples)], dim=-1))

    def split(self, out: Tensor) -> tuple[Tensor, Tensor | None]:
        """D's outputs [members, n / pack, outputs] as its logits [members, n / pack, 1] and, where the variant
        has codes, their estimates per sample [members, n, codes] (each pack's outputs are its samples')."""
        codes = self.codes
        if not codes:
            return out, None
        members, packs, _ = out.shape
        return out[..., :1], out[..., 1:].reshape(members, packs * self.hparams.pack, codes)

    def scores(self, samples: Tensor, given: Given) -> tuple[Tensor, Tensor | None]:
        """D's logits [members, n / pack, 1] for samples [members, n, dim], and the codes' estimates (or None)."""
        return self.split(self.discriminator(self.d_input(samples, given)))

    def member_scores(self, packed: Tensor, member: int) -> Tensor:
        """One member's logits [1, n / pack, 1] for its inputs [1, n / pack, f] as D reads them (packed)."""
        return self.split(self.discriminator(packed, slice(member, member + 1)))[0]

    def critic(self, packed: Tensor) -> Tensor:
        """D's logits for inputs already as D reads them (packed): what a gradient penalty differentiates."""
        return self.split(self.discriminator(packed))[0]

    def fake_batch(self, drawn: Tensor) -> tuple[Tensor, Given]:
        """Fakes [members, n, dim] beside real samples made from `drawn`: G's noise, then what the variant adds."""
        z = self.noise(drawn.shape[1])
        given = self.variant.given(drawn, self.family, self.draw)
        return self.generator(z if given.g is None else torch.cat([z, given.g.to(z)], dim=-1)), given

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
        g_opt = memberwise.adam(self.generator.parameters(), hp.g_lr, hp.betas, self.members)
        d_opt = memberwise.adam(self.discriminator.parameters(), hp.d_lr, hp.betas, self.members)
        if not hp.lr_decay:
            return g_opt, d_opt
        # Both learning rates fall linearly to 0 over the run's G updates (stepped in training_step).
        total = self.trainer.max_epochs * self.family.batches_per_epoch
        schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda n: max(0.0, 1 - n / total)) for o in (g_opt, d_opt)]
        return [g_opt, d_opt], schedules

    def on_fit_start(self) -> None:
        self.stream.start(self.runs, 1_000 * self.global_rank, self.device)  # each DDP process its own
        self._any_frozen = bool((self.diverged_at >= 0).any())
        self.steps.choose(self.trainer, self, self.hparams.lean_steps)

    def step(self, optimizer, loss: Tensor) -> None:
        """Backward over the members' summed losses, per-member clipping, then the optimizer's step."""
        self.steps.take(self, optimizer, loss.sum(), self.adjust_gradients)

    def adjust_gradients(self, params: list[Tensor]) -> None:
        """A frozen member's gradient is zero (and so its step); each member's is clipped."""
        if self._any_frozen:
            divergence.zero_frozen(params, self.diverged_at < 0)
        if self.hparams.grad_clip is not None:
            clip_per_member(params, memberwise.values(self.hparams.grad_clip, params[0]))

    def update(self, real: Tensor, drawn: Tensor, g_opt, d_opt) -> Tensor:
        """One G update and its D updates: `d_steps` D updates on this real batch, then one G update.

        Each D update scores fresh fakes (detached); the G update scores the last of them again, through the
        updated D, labelled as the objective says (the classic GAN training loop).
        Returns what the statistics are made of: the G and D losses [members], D's logits on real and on fake.
        """
        objective, variant = self.objective, self.variant
        if self.hparams.simultaneous:
            return self.update_together(real, drawn, g_opt, d_opt)
        for _ in range(self.hparams.d_steps):
            fake, given = self.fake_batch(drawn)  # D reads the real samples with the same condition as the fakes
            real_out, _ = self.scores(real, given)
            fake_out, estimate = self.scores(fake.detach(), given)
            d_loss = objective.d_loss(real_out, fake_out)
            extra = [variant.aux_loss(estimate, given.code)]
            if objective.penalized:
                real_in, fake_in = self.d_input(real, given), self.d_input(fake.detach(), given)
                extra.append(objective.penalty(self.critic, real_in, fake_in, self.uniform))
            self.step(d_opt, sum((e for e in extra if e is not None), d_loss))

        # On the lean path this backward makes G's gradients only; through Lightning's calls (DDP) it also fills
        # D's, which the next D update clears before its own.
        g_out, estimate = self.scores(fake, given)
        # a relativistic objective compares with the real batch, scored through the same (just updated) D
        g_loss = (
            objective.g_loss(g_out, self.scores(real, given)[0]) if objective.g_sees_real else objective.g_loss(g_out)
        )
        aux = variant.aux_loss(estimate, given.code)
        self.step(g_opt, g_loss if aux is None else g_loss + aux)
        self.average(g_opt)
        return g_loss, d_loss, real_out, fake_out

    def update_together(self, real: Tensor, drawn: Tensor, g_opt, d_opt) -> Tensor:
        """`model.simultaneous`: one forward pass of G and D, D's loss and G's from the same scores, both steps
        together (each network's gradient from its own loss only)."""
        objective, variant = self.objective, self.variant
        fake, given = self.fake_batch(drawn)
        real_out, _ = self.scores(real, given)
        fake_out, estimate = self.scores(fake, given)
        d_loss = objective.d_loss(real_out, fake_out)
        d_extra = [variant.aux_loss(estimate, given.code)]
        if objective.penalized:
            real_in, fake_in = self.d_input(real, given), self.d_input(fake.detach(), given)
            d_extra.append(objective.penalty(self.critic, real_in, fake_in, self.uniform))
        g_loss = objective.g_loss(fake_out, real_out) if objective.g_sees_real else objective.g_loss(fake_out)
        aux = variant.aux_loss(estimate, given.code)
        d_total = sum((e for e in d_extra if e is not None), d_loss)
        g_total = g_loss if aux is None else g_loss + aux
        self.steps.take_together(self, [(d_opt, d_total.sum()), (g_opt, g_total.sum())], self.adjust_gradients)
        self.average(g_opt)
        return g_loss, d_loss, real_out, fake_out

    def average(self, g_opt) -> None:
        """With g_ema: the moving average of G takes its step towards G's weights (frozen members excepted)."""
        if self.generator_ema is not None:
            alive = self.diverged_at < 0 if self._any_frozen else None
            params = g_opt.param_groups[0]["params"]
            decay = memberwise.values(self.hparams.g_ema, params[0])
            moving_average_step(self.generator_ema, params, self.generator, decay, alive)

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
        if self.steps.lean:
            stepping.check_counted(self.trainer, steps_before, len(updates) * (1 + self.hparams.d_steps))
        per_update = statistics(updates)  # [k, 4, members]
        if divergence.freeze_diverged(self, per_update, snapshot, (g_opt, d_opt)):
            self._any_frozen = True
        self.training_log.add(per_update, self.g_updates, self.diverged_at < 0, self.loggers)

    # --- checkpoints ----------------------------------------------------------------------------------

    member_state_dict = staticmethod(parts.member_state_dict)  # one member's state, as a one-member GAN holds it

    def seconds(self) -> float:
        """The run's training time so far (`seconds` in metrics.json): this start's, from fit's start, plus that of
        the starts before it whose updates it resumed (their checkpoint's, not the time a stop threw away)."""
        return self.seconds_before + (0.0 if self.started is None else time.perf_counter() - self.started)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["curvegan_model"] = f"{type(self).__module__}.{type(self).__qualname__}"  # for the sampler
        checkpoint["curvegan_seconds"] = self.seconds()
        if self.stream.state() is not None:
            checkpoint["noise_rng_state"] = self.stream.state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.stream.restored = checkpoint.get("noise_rng_state")
        self.seconds_before = float(checkpoint.get("curvegan_seconds", 0.0))

    check = staticmethod(parts.check_settings)  # the relations of its keys to the rest of the config


registry.register("model", GAN)
