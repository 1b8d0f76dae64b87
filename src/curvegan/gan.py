"""CurveGAN: the generator and the discriminator in one LightningModule, trained with manual optimization."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import lightning as L
import torch

from curvegan import nets
from curvegan.objectives import make_objective


class Diverged(RuntimeError):
    """A loss or a parameter stopped being finite."""


class CurveGAN(L.LightningModule):
    """A GAN over curves of `num_points` values.

    Each `training_step` receives k real batches ([k, batch_size, num_points]) and makes k G updates, each
    preceded by `d_steps` D updates (see `update`). All counts a user sees (`g_updates`, the `step` of every
    logged value) are G updates; Lightning's `global_step` counts every optimizer step, (1 + d_steps) per
    G update.
    """

    def __init__(
        self,
        latent_dim: int = 10,
        latent: str = "normal",
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
        preview_curves: int = 48,
        log_every_n_updates: int = 50,
        seed: int = 0,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.generator = nets.generator(latent_dim, g_hidden, num_points)
        self.discriminator = nets.discriminator(num_points, d_hidden)
        # An exponential moving average of the generator's weights, used for every sample when set.
        self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False) if g_ema else None
        self.objective = make_objective(**(objective or {"name": "bce"}))
        # Fixed noise for the figures, so successive epochs show the same latent points.
        fixed = torch.Generator().manual_seed(seed)
        self.register_buffer("preview_noise", self.draw_noise(preview_curves, fixed))
        self._noise_rng: torch.Generator | None = None
        self._noise_rng_state: torch.Tensor | None = None  # restored from a checkpoint, applied at fit start
        self._stats_sum: torch.Tensor | None = None  # training stats summed since they were last logged
        self._stats_count = 0

    # --- sampling -------------------------------------------------------------------------------------

    def draw_noise(self, n: int, rng: torch.Generator, device=None) -> torch.Tensor:
        """n latent vectors: standard normal, or uniform on [-1, 1] (bounded, so no curve comes from a far tail)."""
        shape = (n, self.hparams.latent_dim)
        if self.hparams.latent == "uniform":
            return torch.rand(shape, device=device, generator=rng) * 2 - 1
        return torch.randn(shape, device=device, generator=rng)

    def noise(self, n: int) -> torch.Tensor:
        return self.draw_noise(n, self._noise_rng, self.device)

    @torch.no_grad()
    def sample_from(self, z: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
        """The generator's curves (its moving average's, with g_ema) for noise z [n, latent_dim], on the CPU."""
        generator = self.generator if self.generator_ema is None else self.generator_ema
        was_training = generator.training
        generator.eval()
        curves = torch.cat([generator(part.to(self.device)).cpu() for part in z.split(chunk)])
        generator.train(was_training)
        return curves

    def sample(self, n: int, seed: int) -> torch.Tensor:
        """n curves for noise drawn from `seed` (independent of training's random stream)."""
        z = self.draw_noise(n, torch.Generator().manual_seed(seed))
        return self.sample_from(z)

    @property
    def g_updates(self) -> int:
        return self.trainer.global_step // (1 + self.hparams.d_steps)

    # --- training -------------------------------------------------------------------------------------

    def configure_optimizers(self):
        hp = self.hparams
        g_opt = torch.optim.Adam(self.generator.parameters(), lr=hp.g_lr, betas=tuple(hp.betas))
        d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=hp.d_lr, betas=tuple(hp.betas))
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

    def clip(self, optimizer) -> None:
        if self.hparams.grad_clip is not None:
            self.clip_gradients(optimizer, gradient_clip_val=self.hparams.grad_clip, gradient_clip_algorithm="norm")

    def update(self, real: torch.Tensor, g_opt, d_opt) -> torch.Tensor:
        """One G update and its D updates: `d_steps` D updates on this real batch, then one G update.

        Each D update scores fresh fakes (detached); the G update scores the last of them again, through the
        updated D, labelled as the objective says (the classic GAN training loop).
        Returns [g_loss, d_loss, D's mean probability on real, on fake] for logging.
        """
        objective = self.objective
        for _ in range(self.hparams.d_steps):
            fake = self.generator(self.noise(len(real)))
            real_out, fake_out = self.discriminator(real), self.discriminator(fake.detach())
            d_loss = objective.d_loss(real_out, fake_out)
            penalty = objective.penalty(self.discriminator, real, fake.detach(), self._noise_rng)
            d_opt.zero_grad(set_to_none=True)
            self.manual_backward(d_loss if penalty is None else d_loss + penalty)
            self.clip(d_opt)
            d_opt.step()

        # This backward also fills D's gradients; the next D update clears them before its own.
        g_loss = objective.g_loss(self.discriminator(fake))
        g_opt.zero_grad(set_to_none=True)
        self.manual_backward(g_loss)
        self.clip(g_opt)
        g_opt.step()
        if self.generator_ema is not None:
            with torch.no_grad():
                for average, weight in zip(self.generator_ema.parameters(), self.generator.parameters(), strict=True):
                    average.lerp_(weight, 1 - self.hparams.g_ema)
        with torch.no_grad():
            return torch.stack([g_loss, d_loss, real_out.sigmoid().mean(), fake_out.sigmoid().mean()])

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        g_opt, d_opt = self.optimizers()
        schedules = self.lr_schedulers() if self.hparams.lr_decay else []
        per_update = []
        for real in batch:
            per_update.append(self.update(real, g_opt, d_opt))
            for schedule in schedules:
                schedule.step()
        per_update = torch.stack(per_update)
        self.check_finite(per_update)
        stats = per_update.sum(dim=0)
        self._stats_sum = stats if self._stats_sum is None else self._stats_sum + stats
        self._stats_count += len(batch)
        # self.log costs about a millisecond a value, so log the mean since the last log, every n G updates.
        every = self.hparams.log_every_n_updates
        if self.g_updates // every > (self.g_updates - len(batch)) // every:
            names = ("train/g_loss", "train/d_loss", "train/p_real", "train/p_fake")
            self.log_dict(dict(zip(names, self._stats_sum / self._stats_count, strict=True)))
            # `step` sets the x axis of these values in every logger: G updates, not optimizer steps.
            self.log("step", float(self.g_updates))
            self._stats_sum, self._stats_count = None, 0

    def check_finite(self, per_update: torch.Tensor) -> None:
        """Stop at the first non-finite loss or parameter: nothing after it can be trusted."""
        params_ok = torch.stack([p.sum() for p in self.parameters()]).isfinite().all()
        if per_update.isfinite().all() and params_ok:
            return
        bad = (~per_update.isfinite().all(dim=1)).nonzero()
        row = bad[0, 0].item() if len(bad) else len(per_update) - 1
        step = self.g_updates - len(per_update) + row + 1
        g_loss, d_loss = per_update[row, :2].tolist()
        raise Diverged(
            f"training diverged at G update {step}: g_loss={g_loss:.4g}, d_loss={d_loss:.4g}"
            + ("" if params_ok else ", and a parameter is no longer finite")
        )

    # --- checkpoints ----------------------------------------------------------------------------------

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self._noise_rng is not None:
            checkpoint["noise_rng_state"] = self._noise_rng.get_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self._noise_rng_state = checkpoint.get("noise_rng_state")
