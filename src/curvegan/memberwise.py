"""Member-wise hyperparameters: a key declared `members=True` (curvegan.keys) takes one value for every member,
or a list of one value per member of the ensemble, so that one ensemble trains several settings side by side
(model.g_lr=[1e-4,2e-4,4e-4,8e-4] with ensemble.size=4). Every such value changes no tensor's shape: it becomes a
tensor with the member axis first, and each member's step uses its own.

Adam stays exact member by member: it works element by element, so one Adam over the stacked weights with a step
size and betas of shape [members, 1, …] makes each member's update as an Adam of its own would. A run whose
learning rates and betas are the same for every member keeps torch's fused Adam (the same numbers as before)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


def is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def values(value: Any, like: Tensor) -> Any:
    """A member-wise value as the step uses it: a number (or None) as it is; a list as a [members] tensor on
    `like`'s device, in its dtype."""
    if is_list(value):
        return torch.tensor([float(v) for v in value], dtype=like.dtype, device=like.device)
    return value


def member_settings(gan) -> list[dict] | None:
    """Each member's own value of every member-wise key given one value per member (`model.g_lr`,
    `objective.r1`, …), for its row of metrics.json; None when every member shares every value."""
    given = per_member(gan.hparams, type(gan), type(gan.objective))
    if not given:
        return None
    return [{key: values[k] for key, values in given.items()} for k in range(gan.members)]


def per_member(hparams: dict, model: type, objective: type) -> dict[str, list]:
    """The member-wise keys of `model` and of its `objective` that `hparams` (a model's hyperparameters) gives one
    value per member, by path: {"model.g_lr": [...], "objective.r1": [...]}."""
    from curvegan.keys import keys_of

    given = {
        f"model.{name}": hparams[name]
        for name, d in keys_of(model.Config).items()
        if d.members and d.rule.per_member(hparams.get(name))
    }
    node = hparams.get("objective") or {}
    for name, declared in keys_of(objective).items():
        if declared.members and declared.rule.per_member(node.get(name)):
            given[f"objective.{name}"] = node[name]
    return given


def one_member(hparams: dict, member: int, model: type, objective: type) -> dict:
    """The hyperparameters of member `member` of an ensemble as a model of its own (the sampler's): its own value
    of each member-wise key given one value per member (`per_member`, and the seed), and no blocks (one member is
    one run)."""
    from curvegan.keys import SEED, member_wise

    own = dict(hparams, blocks=None, objective=dict(hparams.get("objective") or {}))
    for path, values in per_member(hparams, model, objective).items():
        node, name = path.split(".", 1)
        (own if node == "model" else own["objective"])[name] = values[member]
    if member_wise(SEED).per_member(own.get("seed")):
        own["seed"] = own["seed"][member]
    return own


def wrong_length(path: str, keys: dict, given: dict, size: int) -> tuple[str, Any, str] | None:
    """(key, value, allowed) for a member-wise key given one value per member but not one for each member of the
    ensemble; None when every such key is right."""
    for name, declared in keys.items():
        value = given.get(name)
        if declared.members and declared.rule.per_member(value) and len(value) != size:
            return (
                f"{path}.{name}".lstrip("."),
                value,
                f"one value for every member, or a list of {size}, one per member",
            )
    return None


def fused(lr: Any, betas: Any) -> bool:
    """Whether every member shares the learning rate and the betas (torch's fused Adam serves them)."""
    return not is_list(lr) and not (is_list(betas) and is_list(betas[0]))


def adam(params, lr: Any, betas: Any, members: int) -> torch.optim.Optimizer:
    """torch's fused Adam where every member shares the learning rate and betas; else `MemberwiseAdam`."""
    per_member_betas = is_list(betas) and is_list(betas[0])
    if fused(lr, betas):
        # One Adam over each stacked tensor is exactly one Adam per member: Adam works element by element.
        # The fused kernel does a whole step in one call: 2.7× faster than the default on one CPU thread.
        return torch.optim.Adam(params, lr=lr, betas=tuple(float(b) for b in betas), fused=True)
    lrs = list(lr) if is_list(lr) else [lr] * members
    pairs = [list(b) for b in betas] if per_member_betas else [list(betas)] * members
    return MemberwiseAdam(params, torch.tensor(lrs), torch.tensor(pairs))


def runs(settings: list[tuple]) -> list[tuple]:
    """(*setting, members) of each run of neighbouring members with the same setting."""
    out: list[tuple] = []
    for k, setting in enumerate(settings):
        if k and setting == settings[k - 1]:
            out[-1] = (*setting, slice(out[-1][-1].start, k + 1))
        else:
            out.append((*setting, slice(k, k + 1)))
    return out


class MemberwiseAdam(torch.optim.Adam):
    """Adam (Kingma & Ba, 2015, as torch's fused Adam computes it, without weight decay or amsgrad) whose learning
    rate and betas are each member's own: `lr` [members], `betas` [members, 2]. Each run of neighbouring members
    that share a setting is stepped by torch's fused kernel on its slice of every tensor (a slice of the member
    axis is contiguous), so a member's update is bit for bit the one a fused Adam of its own makes. The group's
    "lr" is a factor on them (1, or what a learning-rate schedule makes of it), so schedules work as with Adam.
    Its state is Adam's ("step", "exp_avg", "exp_avg_sq"), so checkpoints hold and restore it as Adam's.

    Past `FUSED_RUNS` runs, one call per run costs more than the step itself (3 ms a step for 128 runs of 4
    members on 2 cores, against 0.3 ms for one run). Then each run of members sharing the betas is one call of
    the kernel at a learning rate of 1, into a scratch tensor, which each member's learning rate scales (0.6 ms;
    curvegan.packed puts a sweep's jobs of the same betas side by side); past `FUSED_RUNS` of those too, the
    same formula over all members at once (2 ms). Both equal the fused kernel's step to float32 rounding.
    The slices of each run, the scratch tensors and the members' rates are made once and kept (`kept`) while the
    weights and moments are the same tensors: 0.07 to 0.1 ms less a step for 128 runs of 4 members on one thread."""

    FUSED_RUNS = 8

    def __init__(self, params, lr: Tensor, betas: Tensor, eps: float = 1e-8):
        super().__init__(params, lr=1.0, eps=eps)
        self.member_lr, self.member_betas = lr, betas
        settings = [(float(a), float(b[0]), float(b[1])) for a, b in zip(lr.tolist(), betas.tolist(), strict=True)]
        self.runs = runs(settings)  # (lr, beta1, beta2, members) of each run of members sharing all three
        self.beta_runs = runs([s[1:] for s in settings])  # (beta1, beta2, members) of each sharing the betas
        self._held: list[Tensor] = []  # the tensors `_kept` slices
        self._kept: dict = {}

    def kept(self, params: list[Tensor], states: list[dict]) -> dict:
        """What a step reuses (slices of the weights and moments, the scaled path's buffers and rates), kept while
        the weights and moments are the same tensors (loading a state dict replaces the moments)."""
        held = [t for p, state in zip(params, states, strict=True) for t in (p, state["exp_avg"], state["exp_avg_sq"])]
        if len(held) != len(self._held) or any(a is not b for a, b in zip(held, self._held, strict=True)):
            self._held, self._kept = held, {}
        return self._kept

    @staticmethod
    def sliced(kept: dict, params: list[Tensor], states: list[dict], members: slice) -> tuple[list, list, list]:
        """The members' slices of the weights, first and second moments (kept in `kept`)."""
        at = (members.start, members.stop)
        if at not in kept:
            kept[at] = (
                [p[members] for p in params],
                [state["exp_avg"][members] for state in states],
                [state["exp_avg_sq"][members] for state in states],
            )
        return kept[at]

    @torch.no_grad()
    def step(self, closure=None):
        loss = None if closure is None else closure()
        for group in self.param_groups:
            factor, eps = group["lr"], group["eps"]
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32, device=p.device)
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if not params:
                continue
            states = [self.state[p] for p in params]
            steps = [state["step"] for state in states]
            torch._foreach_add_(steps, 1)
            if len(self.runs) > self.FUSED_RUNS:
                if len(self.beta_runs) > self.FUSED_RUNS:
                    self._step_all(params, states, factor, eps)
                else:
                    self._step_scaled(params, states, factor, eps)
                continue
            kept = self.kept(params, states)
            for lr, beta1, beta2, members in self.runs:
                weights, exp_avgs, exp_avg_sqs = self.sliced(kept, params, states, members)
                torch._fused_adam_(
                    weights,
                    [p.grad[members] for p in params],
                    exp_avgs,
                    exp_avg_sqs,
                    [],
                    steps,
                    amsgrad=False,
                    lr=lr * factor,
                    beta1=beta1,
                    beta2=beta2,
                    weight_decay=0.0,
                    eps=eps,
                    maximize=False,
                )
        return loss

    def _step_scaled(self, params: list[Tensor], states: list[dict], factor: float, eps: float) -> None:
        """Each run of members sharing the betas: the kernel's step at a learning rate of 1 into a scratch tensor,
        then each member's own learning rate times it."""
        steps = [state["step"] for state in states]
        kept = self.kept(params, states)
        for beta1, beta2, members in self.beta_runs:
            weights, exp_avgs, exp_avg_sqs = self.sliced(kept, params, states, members)
            at = ("scaled", members.start, members.stop)
            if at not in kept:  # a buffer for the step at rate 1; each member's rate shaped for its tensors
                kept[at] = [[torch.zeros_like(w) for w in weights], None, []]
            scratch, scaled_by, rates = kept[at]
            if scaled_by != factor:  # (a schedule changes the factor at every step)
                lr = self.member_lr[members].double() * factor
                rates[:] = [lr.to(p.dtype).to(p.device).view((-1,) + (1,) * (p.dim() - 1)) for p in params]
                kept[at][1] = factor
            torch._foreach_zero_(scratch)
            torch._fused_adam_(
                scratch,
                [p.grad[members] for p in params],
                exp_avgs,
                exp_avg_sqs,
                [],
                steps,
                amsgrad=False,
                lr=1.0,
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=eps,
                maximize=False,
            )
            torch._foreach_addcmul_(weights, scratch, rates)

    def _step_all(self, params: list[Tensor], states: list[dict], factor: float, eps: float) -> None:
        """The fused kernel's formula over every member at once."""
        step = float(states[0]["step"])
        lr = self.member_lr.double() * factor
        beta1, beta2 = self.member_betas[:, 0].double(), self.member_betas[:, 1].double()
        step_size = lr / (1 - beta1**step)
        correction2 = (1 - beta2**step).sqrt()
        for p, state in zip(params, states, strict=True):
            shape = (-1,) + (1,) * (p.dim() - 1)
            b1, b2 = (b.to(p.dtype).to(p.device).view(shape) for b in (beta1, beta2))
            size, root = (v.to(p.dtype).to(p.device).view(shape) for v in (step_size, correction2))
            grad, exp_avg, exp_avg_sq = p.grad, state["exp_avg"], state["exp_avg_sq"]
            exp_avg.lerp_(grad, 1 - b1)
            exp_avg_sq.mul_(b2).addcmul_(grad, grad * (1 - b2))
            denom = exp_avg_sq.sqrt().div_(root).add_(eps)
            p.addcdiv_(exp_avg * size, denom, value=-1)
