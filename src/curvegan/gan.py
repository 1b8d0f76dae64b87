"""CurveGAN: an ensemble of GANs over curves in one LightningModule, trained with manual optimization.

Every network holds `members` independent GANs as stacked weights (nets.py), every tensor carries the member
axis first, and every loss is per member and summed, so member k trains exactly as a GAN of its own would.
A single run is an ensemble of one. Variants (conditional, InfoGAN) override the hooks below ("the hooks a
variant overrides": what G is fed, what D reads and returns, what is drawn and measured) and keep this loop.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator, Sequence

import lightning as L
import torch
from torch import Tensor

from curvegan import nets
from curvegan.families import Family
from curvegan.metrics import curve_quality
from curvegan.objectives import make_objective

log = logging.getLogger(__name__)


# The entries of the state dict that carry the member axis first: every network's weights, and the per-member
# divergence record. Everything else (the figures' fixed noise) is shared.
MEMBER_AXIS = ("generator.", "discriminator.", "generator_ema.", "diverged_at")


class Diverged(RuntimeError):
    """Every member's losses or parameters stopped being finite."""


def broadcast_members(mask: Tensor, like: Tensor) -> Tensor:
    """A per-member [members] tensor shaped to broadcast against a [members, ...] tensor."""
    return mask.view(-1, *[1] * (like.dim() - 1))


class CurveGAN(L.LightningModule):
    """`members` GANs over curves of `num_points` values, trained side by side.

    Each `training_step` receives k real batches (a [k, members, batch], curves [k, members, batch, points])
    and makes k G updates, each preceded by `d_steps` D updates (see `update`). All counts a user sees
    (`g_updates`, the `step` of every logged value) are G updates; Lightning's `global_step` counts every
    optimizer step, (1 + d_steps) per G update.
    """

    def __init__(
        self,
        members: int = 1,
        latent_dim: int = 10,
        latent: str = "normal",
        latent_modes: int = 8,
        latent_spread: float = 0.02,
        num_points: int = 16,
        g_hidden: Sequence[int] = (32,),
        d_hidden: Sequence[int] = (32,),
        d_steps: int = 1,
        g_lr: float = 2e-4,
        d_lr: float = 2e-4,
        betas: Sequence[float] = (0.5, 0.999),
        grad_clip: float | None = None,
        lr_decay: bool = False,
        g_ema: float | None = None,
        objective: dict | None = None,
        pack: int = 1,
        preview_curves: int = 48,
        log_every_n_updates: int = 50,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = nets.EnsembleMLP(members, self.generator_inputs, g_hidden, num_points)
        self.discriminator = nets.EnsembleMLP(members, self.discriminator_inputs, d_hidden, self.discriminator_outputs)
        # An exponential moving average of the generator's weights, used for every sample when set.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if g_ema else None
        self.objective = make_objective(**(objective or {"name": "bce"}))
        # Fixed noise for the figures (the same for every member), so successive epochs show the same points.
        self.register_buffer("preview_noise", self.preview_inputs(preview_curves, torch.Generator().manual_seed(seed)))
        # The G update at which each member diverged and was frozen; -1 while it trains.
        self.register_buffer("diverged_at", torch.full((members,), -1, dtype=torch.long))
        self._noise_rng: torch.Generator | None = None
        self._noise_rng_state: Tensor | None = None  # restored from a checkpoint, applied at fit start
        self._stats_sum: Tensor | None = None  # training stats [4, members] summed since they were last logged
        self._stats_count = 0
        self._any_frozen = False

    # --- the shapes of the networks (variants add inputs and outputs) --------------------------------

    @property
    def generator_inputs(self) -> int:
        return self.hparams.latent_dim

    @property
    def curve_features(self) -> int:
        """What D reads of one curve: its points (a variant adds what it is conditioned on)."""
        return self.hparams.num_points

    @property
    def discriminator_inputs(self) -> int:
        return self.curve_features * self.hparams.pack

    @property
    def discriminator_outputs(self) -> int:
        return 1

    @property
    def members(self) -> int:
        return self.hparams.members

    # --- randomness -----------------------------------------------------------------------------------

    def draw(self, shape: Sequence[int], uniform: bool = False) -> Tensor:
        """Standard normal (or U[0, 1)) numbers from the training stream: all of training's randomness."""
        if uniform:
            return torch.rand(shape, device=self.device, generator=self._noise_rng)
        return torch.randn(shape, device=self.device, generator=self._noise_rng)

    def latent_from(self, shape: Sequence[int], draw) -> Tensor:
        """Latent noise: standard normal; uniform on [-1, 1] (bounded, so no curve comes from a far tail); or, for
        each coordinate, a mixture of `latent_modes` narrow normals (std `latent_spread`) at evenly spaced
        centres of [-1, 1]: a prior already in separate pieces, for data in separate modes."""
        if self.hparams.latent == "uniform":
            return draw(shape, True) * 2 - 1
        if self.hparams.latent == "mixture":
            modes = self.hparams.latent_modes
            which = (draw(shape, True) * modes).floor().clamp(max=modes - 1)
            return which * (2 / (modes - 1)) - 1 + self.hparams.latent_spread * draw(shape, False)
        return draw(shape, False)

    @property
    def latent_span(self) -> float:
        """How far a walk moves a latent coordinate: ±2.5 standard deviations, or a bounded noise's ±1."""
        return 2.5 if self.hparams.latent == "normal" else 1.0

    def noise(self, n: int) -> Tensor:
        """[members, n, latent_dim]: each member its own noise."""
        return self.latent_from((self.members, n, self.hparams.latent_dim), self.draw)

    @staticmethod
    def drawing_from(rng: torch.Generator):
        """A `draw` function over a generator of its own (evaluation's and the figures' fixed noise)."""

        def draw(shape, uniform=False):
            return torch.rand(shape, generator=rng) if uniform else torch.randn(shape, generator=rng)

        return draw

    # --- the hooks a variant overrides ----------------------------------------------------------------

    def fake_batch(self, real_a: Tensor) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Fakes for one D or G step beside real curves with parameters real_a [members, n]:
        (curves [members, n, points], what D is told about them, the latent codes Q should recover)."""
        return self.generator(self.noise(real_a.shape[1])), None, None

    def d_input(self, curves: Tensor, condition: Tensor | None) -> Tensor:
        """What D reads of each curve [members, n, points]: [members, n, curve_features]."""
        return curves

    def split(self, out: Tensor) -> tuple[Tensor, Tensor | None]:
        """D's outputs [members, n / pack, outputs] as (logits [members, n / pack, 1], code estimates or None)."""
        return out, None

    def packed(self, features: Tensor) -> Tensor:
        """PacGAN (Lin et al., 2018): D scores `pack` curves at once, concatenated: [members, n, f] →
        [members, n / pack, pack · f]. Seeing several samples together lets D notice a lack of variety."""
        members, n, f = features.shape
        return features.reshape(members, n // self.hparams.pack, self.hparams.pack * f)

    def scores(self, curves: Tensor, condition: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """D's logits [members, n / pack, 1] for curves [members, n, points], and Q's code estimates (or None)."""
        return self.split(self.discriminator(self.packed(self.d_input(curves, condition))))

    def critic(self, packed: Tensor) -> Tensor:
        """D's logits for inputs already as D reads them (packed): what a gradient penalty differentiates."""
        return self.split(self.discriminator(packed))[0]

    def info_loss(self, estimate: Tensor | None, code: Tensor | None) -> Tensor | None:
        """A per-member loss for recovering latent codes (InfoGAN); None for a plain GAN."""
        return None

    def preview_inputs(self, n: int, rng: torch.Generator) -> Tensor:
        """Generator inputs [n, inputs] for the per-epoch figure, the same for every member."""
        return self.latent_from((n, self.hparams.latent_dim), self.drawing_from(rng))

    def preview_style(self, datamodule, n: int) -> tuple[list | None, Tensor | None, str]:
        """How the figure draws the first n preview curves: (a colour each, reference curves, legend label)."""
        return None, None, "generated"

    def evaluation_inputs(self, n: int, seed: int, family: Family) -> tuple[Tensor, dict]:
        """Generator inputs [n, inputs] (the same for every member) for measuring quality, and what the
        variant's own metrics need to know about them."""
        return self.latent_from(
            (n, self.hparams.latent_dim), self.drawing_from(torch.Generator().manual_seed(seed))
        ), {}

    def variant_quality(self, curves: Tensor, x: Tensor, family: Family, known: dict, members: slice) -> dict:
        """Metrics of a variant beyond curve_quality, per member; `members` are the members that drew curves."""
        return {}

    # --- sampling -------------------------------------------------------------------------------------

    def sample_inputs(
        self, n: int, seed: int, family: Family, a: float | None = None, code: float | None = None
    ) -> Tensor:
        """Generator inputs [n, inputs] for the sampler: by default evaluation's (so the sampler's curves are a
        run's samples.npy); a variant may take a requested `a` (conditional) or fix the `code` (InfoGAN)."""
        if a is not None:
            raise ValueError(f"a={a}: this checkpoint is not conditional; model=cgan draws curves for a given a")
        if code is not None:
            raise ValueError(f"code={code}: this checkpoint has no latent code; model=infogan has one")
        return self.evaluation_inputs(n, seed, family)[0]

    def requested_quality(self, curves: Tensor, x: Tensor, a: float) -> dict[str, Tensor]:
        """How well curves [n, points] drawn for a requested a match it (conditional models)."""
        return {}

    def walk(self, steps: int = 9) -> tuple[Tensor, Tensor, list[str]]:
        """Curves met moving each latent coordinate over its range with the others at 0: ([dims, steps, points],
        the coordinate's values [dims, steps], a label per coordinate). Normal noise walks [-2.5, 2.5], bounded
        noise [-1, 1]."""
        dims = self.hparams.latent_dim
        span = self.latent_span
        values = torch.linspace(-span, span, steps)
        z = torch.zeros(dims, steps, dims)
        z[torch.arange(dims), :, torch.arange(dims)] = values
        curves = self.generate(z.reshape(-1, dims))[0].reshape(dims, steps, -1).cpu()
        return curves, values.expand(dims, steps), [f"z[{d}]" for d in range(dims)]

    @property
    def sampler(self) -> nets.EnsembleMLP:
        return self.generator if self.generator_ema is None else self.generator_ema

    @torch.no_grad()
    def generate(self, inputs: Tensor, members: slice | None = None) -> Tensor:
        """The generator's curves (its moving average's, with g_ema) for inputs [n, inputs] shared by the
        chosen members, or [m, n, inputs] one set per member: [m, n, points], on the module's device."""
        weights = self.sampler.layers[0].weight[members or slice(None)]
        if inputs.dim() == 2:
            inputs = inputs.expand(len(weights), *inputs.shape)
        return self.sampler(inputs.to(self.device), members)

    def member_chunks(self, n: int) -> Iterator[slice]:
        """Runs of members small enough that their n curves' activations stay within about 32 MB on the CPU
        (the process's peak memory), 256 MB on a GPU (fewer, larger operations)."""
        widest = max([*self.hparams.g_hidden, *self.hparams.d_hidden, self.hparams.num_points])
        budget = 2**23 if self.device.type == "cpu" else 2**26
        step = max(1, budget // (n * widest))
        for first in range(0, self.members, step):
            yield slice(first, min(first + step, self.members))

    @torch.no_grad()
    def evaluate(self, n: int, seed: int, family: Family, x: Tensor, each=None) -> dict[str, Tensor]:
        """Every member's quality on n curves, {metric: [members]}, every member drawing from the same fixed
        inputs (`seed`), so members compare like with like. Members go a run at a time (`member_chunks`);
        `each(curves)`, if given, sees each run's curves [m, n, points] on the CPU, in member order."""
        inputs, known = self.evaluation_inputs(n, seed, family)
        x = x.to(self.device)
        per_member: dict[str, list] = {}
        for members in self.member_chunks(n):
            curves = self.generate(inputs, members)
            quality = curve_quality(curves, x, family) | self.variant_quality(curves, x, family, known, members)
            if each is not None:
                each(curves.cpu())
            for name, values in quality.items():
                per_member.setdefault(name, []).append(values.cpu())
        return {name: torch.cat(values) for name, values in per_member.items()}

    @property
    def g_updates(self) -> int:
        return self.trainer.global_step // (1 + self.hparams.d_steps)

    # --- training -------------------------------------------------------------------------------------

    def configure_optimizers(self):
        hp = self.hparams
        # One Adam over each stacked tensor is exactly one Adam per member: Adam works element by element.
        # The fused kernel does a whole step in one call: 2.7× faster than the default on one CPU thread here.
        g_opt = torch.optim.Adam(self.generator.parameters(), lr=hp.g_lr, betas=tuple(hp.betas), fused=True)
        d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=hp.d_lr, betas=tuple(hp.betas), fused=True)
        if not hp.lr_decay:
            return g_opt, d_opt
        # Both learning rates fall linearly to 0 over the run's G updates (stepped in training_step).
        total = self.trainer.max_epochs * self.trainer.datamodule.hparams.batches_per_epoch
        schedules = [torch.optim.lr_scheduler.LambdaLR(o, lambda n: max(0.0, 1 - n / total)) for o in (g_opt, d_opt)]
        return [g_opt, d_opt], schedules

    def on_fit_start(self) -> None:
        seed = self.hparams.seed + 1_000 * self.global_rank  # each DDP process its own noise
        self._noise_rng = torch.Generator(device=self.device).manual_seed(seed)
        if self._noise_rng_state is not None:
            self._noise_rng.set_state(self._noise_rng_state)
        self._any_frozen = bool((self.diverged_at >= 0).any())

    def step(self, optimizer, loss: Tensor) -> None:
        """Backward over the members' summed losses, per-member clipping, then the optimizer's step."""
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss.sum())
        if self._any_frozen or self.hparams.grad_clip is not None:
            params = optimizer.param_groups[0]["params"]
            if self._any_frozen:  # a frozen member's gradient is zero, and so (its Adam state zeroed) its step
                alive = self.diverged_at < 0
                for p in params:
                    p.grad = torch.where(broadcast_members(alive, p.grad), p.grad, 0.0)
            if self.hparams.grad_clip is not None:
                clip_per_member(params, self.hparams.grad_clip)
        optimizer.step()

    def update(self, real: Tensor, real_a: Tensor, g_opt, d_opt) -> Tensor:
        """One G update and its D updates: `d_steps` D updates on this real batch, then one G update.

        Each D update scores fresh fakes (detached); the G update scores the last of them again, through the
        updated D, labelled as the objective says (the classic GAN training loop).
        Returns [g_loss, d_loss, D's mean probability on real, on fake], each per member: [4, members].
        """
        objective = self.objective
        for _ in range(self.hparams.d_steps):
            fake, condition, code = self.fake_batch(real_a)
            real_out, _ = self.scores(real, real_a)
            fake_out, estimate = self.scores(fake.detach(), condition)
            d_loss = objective.d_loss(real_out, fake_out)
            extra = [self.info_loss(estimate, code)]
            if objective.penalized:
                real_in, fake_in = (self.packed(self.d_input(c, a)) for c, a in ((real, real_a), (fake, condition)))
                extra.append(objective.penalty(self.critic, real_in, fake_in.detach(), self.uniform))
            self.step(d_opt, sum((e for e in extra if e is not None), d_loss))

        # This backward also fills D's gradients; the next D update clears them before its own.
        g_out, estimate = self.scores(fake, condition)
        g_loss = objective.g_loss(g_out)
        info = self.info_loss(estimate, code)
        self.step(g_opt, g_loss if info is None else g_loss + info)
        if self.generator_ema is not None:
            with torch.no_grad():
                weight = 1 - self.hparams.g_ema
                for average, current in zip(
                    self.generator_ema.parameters(), g_opt.param_groups[0]["params"], strict=True
                ):
                    if self._any_frozen:
                        average.lerp_(current, broadcast_members(self.diverged_at < 0, average) * weight)
                    else:
                        average.lerp_(current, weight)
        with torch.no_grad():
            p_real, p_fake = (out.sigmoid().flatten(1).mean(dim=1) for out in (real_out, fake_out))
            return torch.stack([g_loss, d_loss, p_real, p_fake])

    def uniform(self, *shape: int) -> Tensor:
        return self.draw(shape, uniform=True)

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        schedules = self.lr_schedulers() if self.hparams.lr_decay else []
        snapshot = self.snapshot()
        per_update = []
        for real_a, real in zip(*batch, strict=True):
            per_update.append(self.update(real, real_a, g_opt, d_opt))
            for schedule in schedules:
                schedule.step()
        per_update = torch.stack(per_update)  # [k, 4, members]
        self.freeze_diverged(per_update, snapshot, (g_opt, d_opt))
        stats = per_update.nan_to_num().sum(dim=0)
        self._stats_sum = stats if self._stats_sum is None else self._stats_sum + stats
        self._stats_count += len(per_update)
        # self.log costs about a millisecond a value, so log the mean since the last log, every n G updates.
        every = self.hparams.log_every_n_updates
        if self.g_updates // every > (self.g_updates - len(per_update)) // every:
            alive = self.diverged_at < 0
            means = (self._stats_sum / self._stats_count)[:, alive]
            names = ("train/g_loss", "train/d_loss", "train/p_real", "train/p_fake")
            # The median member's value; with one member, its own.
            self.log_dict(dict(zip(names, means.median(dim=1).values, strict=True)))
            # `step` sets the x axis of these values in every logger: G updates, not optimizer steps.
            self.log("step", float(self.g_updates))
            self._stats_sum, self._stats_count = None, 0

    # --- divergence: per member -----------------------------------------------------------------------

    def snapshot(self) -> list[Tensor]:
        """Every parameter as it is before a training_step, to put back a member that diverges in it."""
        return [p.detach().clone() for p in self.parameters()]

    def freeze_diverged(self, per_update: Tensor, snapshot: list[Tensor], optimizers) -> None:
        """Freeze each member whose losses or parameters stopped being finite in this step.

        A frozen member gets back its weights from before the step, its Adam state is zeroed and it makes no
        further update; the others train on. Only when every member has diverged does training stop.
        """
        finite = per_update.isfinite().flatten(0, 1).all(dim=0) & nets.per_member_finite(self)
        newly = finite.logical_not() & (self.diverged_at < 0)
        if not newly.any():
            return
        rows = per_update.isfinite().all(dim=1).logical_not()  # [k, members]: which updates went bad
        first_bad = torch.where(rows.any(dim=0), rows.float().argmax(dim=0), len(per_update) - 1)
        at = self.g_updates - len(per_update) + first_bad + 1
        self.diverged_at.copy_(torch.where(newly, at, self.diverged_at))
        with torch.no_grad():
            for p, before in zip(self.parameters(), snapshot, strict=True):
                p.copy_(torch.where(broadcast_members(newly, p), before, p))
            for optimizer in optimizers:
                for state in optimizer.optimizer.state.values():
                    for key, value in state.items():
                        if key != "step" and value.dim() > 0:
                            value.copy_(torch.where(broadcast_members(newly, value), 0.0, value))
        self._any_frozen = True
        for member in newly.nonzero().flatten().tolist():
            g_loss, d_loss = per_update[first_bad[member], :2, member].tolist()
            alive = int((self.diverged_at < 0).sum())
            log.warning(
                f"member {member} diverged at G update {at[member].item()} (g_loss={g_loss:.4g}, d_loss={d_loss:.4g});"
                f" frozen, {alive} of {self.members} train on"
            )
        if (self.diverged_at >= 0).all():
            member = int(newly.nonzero()[0])
            g_loss, d_loss = per_update[first_bad[member], :2, member].tolist()
            raise Diverged(
                f"training diverged at G update {at[member].item()}: g_loss={g_loss:.4g}, d_loss={d_loss:.4g}"
                + ("" if self.members == 1 else f" (every one of the {self.members} members has diverged)")
            )

    # --- checkpoints ----------------------------------------------------------------------------------

    @staticmethod
    def member_state_dict(state_dict: dict[str, Tensor], member: int) -> dict[str, Tensor]:
        """The state of one member, as a one-member CurveGAN of the same settings holds it."""
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


def clip_per_member(params: list[Tensor], max_norm: float) -> None:
    """Scale each member's gradient so its norm over all `params` is at most max_norm (as
    torch.nn.utils.clip_grad_norm_ does for one network). Lightning's clip_gradients takes one norm over all
    members together, which would couple them."""
    norms = torch.stack([p.grad.flatten(1).pow(2).sum(dim=1) for p in params]).sum(dim=0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(broadcast_members(scale, p.grad))
