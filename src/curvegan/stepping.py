"""How the model's optimizer steps are taken, member by member: clipping each member's gradient, freezing a member
that diverged, and the lean path that calls autograd and the optimizers directly where Lightning's per-call
hooks would do nothing.

The lean path: for networks this small most of an update's time is per-call overhead, and Lightning's
`manual_backward` and `LightningOptimizer.step` walk the strategy's, the precision plugin's and every callback's
hooks on each call (about 0.5 and 0.35 ms a call on a 2-core CPU, against well under that for the forward pass).
Where the strategy is a single device, the precision plain 32-bit, no profiler times the calls and no callback
(nor the model) overrides a hook they call, those walks do nothing, so the lean path calls `Tensor.backward` and
the torch optimizer itself, and counts each step as Lightning's own step does: through the two hooks Lightning's
manual optimization puts on each LightningOptimizer for exactly that (`_on_before_step`, `_on_after_step`).
Those are Lightning's internals: the path is taken only where they exist, and a step that Lightning no longer
counts through them stops the run with a message naming the setting that turns the path off (model.lean_steps).
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.optim import optimizer as torch_optimizer

log = logging.getLogger(__name__)

# The hooks Lightning's backward and optimizer step call, which the lean path does not.
STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_before_zero_grad")


def broadcast_members(mask: Tensor, like: Tensor) -> Tensor:
    """A per-member [members] tensor shaped to broadcast against a [members, ...] tensor."""
    return mask.view(-1, *[1] * (like.dim() - 1))


def clip_per_member(params: list[Tensor], max_norm: float) -> None:
    """Scale each member's gradient so its norm over all `params` is at most max_norm (as
    torch.nn.utils.clip_grad_norm_ does for one network). Lightning's clip_gradients takes one norm over all
    members together, which would couple them."""
    norms = torch.stack([p.grad.flatten(1).pow(2).sum(dim=1) for p in params]).sum(dim=0).sqrt()
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(broadcast_members(scale, p.grad))


def why_not_lean(trainer, module) -> str | None:
    """Why Lightning's calls are needed for this run's steps, or None where the lean path gives the same steps."""
    from lightning.pytorch import Callback, LightningModule
    from lightning.pytorch.plugins.precision import Precision
    from lightning.pytorch.profilers import PassThroughProfiler
    from lightning.pytorch.strategies import SingleDeviceStrategy

    if type(trainer.strategy) is not SingleDeviceStrategy:
        return f"the {type(trainer.strategy).__name__} strategy"
    if type(trainer.precision_plugin) is not Precision:
        return f"precision {trainer.precision}"
    if not isinstance(trainer.profiler, PassThroughProfiler):
        return "a profiler, which times Lightning's calls"
    for owner, base in [*((c, Callback) for c in trainer.callbacks), (module, LightningModule)]:
        for hook in STEP_HOOKS:
            if getattr(type(owner), hook) is not getattr(base, hook):
                return f"{type(owner).__name__}.{hook}"
    optimizers = module.optimizers()
    for optimizer in optimizers if isinstance(optimizers, list) else [optimizers]:
        if not (
            callable(getattr(optimizer, "_on_before_step", None))
            and callable(getattr(optimizer, "_on_after_step", None))
        ):
            return "a Lightning whose optimizers no longer count steps through _on_before_step/_on_after_step"
    return None


def trained(optimizer) -> list[Tensor] | None:
    """The parameters `optimizer` steps that take gradients (every one, for curvegan's own); None for none."""
    return [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad] or None


def lean_step(optimizer, loss: Tensor, adjust) -> None:
    """zero_grad, backward, `adjust(params)` (clipping, frozen members), step: autograd and the torch optimizer
    themselves (Adam's fused kernel itself where `fused_adam_step` can take the step), the step counted as
    Lightning counts its own. The backward makes the gradients of the optimizer's own parameters only (`inputs`):
    G's update need not make D's, which D's next update would throw away."""
    raw = optimizer.optimizer
    params = raw.param_groups[0]["params"]
    if len(raw.param_groups) == 1:
        for p in params:  # what zero_grad(set_to_none=True) does, without its profiler and compiler wrappers
            p.grad = None
    else:
        raw.zero_grad(set_to_none=True)
    loss.backward(inputs=trained(raw))
    adjust(params)
    optimizer._on_before_step()
    if not fused_adam_step(raw):
        raw.step()
    optimizer._on_after_step()


# What torch.optim.Adam(fused=True).step does, for the settings it does it with here: one parameter group on one
# device and dtype, every parameter with a gradient and its state (after the first step), no hooks, no gradient
# scaler. Anything else is left to the optimizer's own step.
ADAM_AS_FUSED = {"fused": True, "amsgrad": False, "maximize": False, "capturable": False, "differentiable": False}
PRIVATE_KERNELS = ("_fused_adam_", "_foreach_add_")  # torch's, as Adam(fused=True).step calls them
NO_GRAD = torch.no_grad()  # one, entered by each step (never nested): making one a step cost a few microseconds


@dataclass
class AdamTensors:
    """An Adam's parameters and state, as its fused kernel takes them: looked up once, not at every step."""

    params: list[Tensor]
    exp_avgs: list[Tensor]
    exp_avg_sqs: list[Tensor]
    steps: list[Tensor]

    @classmethod
    def of(cls, optimizer) -> AdamTensors | None:
        """None where the kernel cannot take `optimizer`'s step as Adam.step would (see ADAM_AS_FUSED)."""
        if getattr(torch, "_fused_adam_", None) is None or type(optimizer) is not torch.optim.Adam:
            return None
        if len(optimizer.param_groups) != 1 or getattr(optimizer, "grad_scale", None) is not None:
            return None
        params, states = optimizer.param_groups[0]["params"], optimizer.state
        first = params[0]
        if any(p not in states or p.device != first.device or p.dtype != first.dtype for p in params):
            return None  # before Adam's first step made its state, or tensors it would group
        state = [states[p] for p in params]
        return cls(params, *([s[name] for s in state] for name in ("exp_avg", "exp_avg_sq", "step")))

    def current(self, optimizer) -> bool:
        """Whether these are still `optimizer`'s tensors (loading a state dict replaces them)."""
        groups = optimizer.param_groups
        return (
            len(groups) == 1
            and groups[0]["params"] is self.params
            and optimizer.state.get(self.params[0], {}).get("step") is self.steps[0]
        )


_tensors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fused_adam_step(optimizer) -> bool:
    """Take `optimizer`'s step by calling Adam's fused kernel (`torch._fused_adam_`) as Adam.step does, without the
    wrappers around it (a profiler range, the compiler's guard, the grouping by device and dtype, the lookup of
    every parameter's state): for these networks they cost about four times the kernel (0.08 of 0.1 ms a step on
    one CPU thread). Returns False, having done nothing, where the optimizer or its state is anything but that
    case: the caller then calls optimizer.step(). The same numbers to the bit as Adam.step
    (tests/test_equivalence.py). The kernel and the hooks' registries are torch's private API: where a torch lacks
    them, this is False and the optimizer's own (public) step is taken (tested by removing them)."""
    kernel, count = (getattr(torch, name, None) for name in PRIVATE_KERNELS)
    if (
        kernel is None
        or count is None
        or getattr(optimizer, "_optimizer_step_pre_hooks", True)
        or getattr(optimizer, "_optimizer_step_post_hooks", True)
        or getattr(torch_optimizer, "_global_optimizer_pre_hooks", True)
        or getattr(torch_optimizer, "_global_optimizer_post_hooks", True)
        or getattr(optimizer, "found_inf", None) is not None
    ):
        return False
    tensors = _tensors.get(optimizer)
    if tensors is None or not tensors.current(optimizer):
        tensors = AdamTensors.of(optimizer)
        if tensors is None:
            return False
        _tensors[optimizer] = tensors
    group = optimizer.param_groups[0]
    beta1, beta2 = group["betas"]
    if (
        any(group.get(name, not value) != value for name, value in ADAM_AS_FUSED.items())
        or group.get("decoupled_weight_decay", False)
        or not all(isinstance(v, float | int) for v in (group["lr"], beta1, beta2))  # not tensors
    ):
        return False
    grads = [p.grad for p in tensors.params]
    if any(g is None for g in grads):
        return False
    with NO_GRAD:
        count(tensors.steps, 1)
        kernel(
            tensors.params,
            grads,
            tensors.exp_avgs,
            tensors.exp_avg_sqs,
            [],
            tensors.steps,
            amsgrad=False,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )
    return True


class Steps:
    """How this fit's optimizer steps are taken: on the lean path where it gives the same steps (chosen at fit
    start), else through Lightning's calls."""

    def __init__(self) -> None:
        self.lean = False

    def choose(self, trainer, module, allowed: bool) -> None:
        why_not = "model.lean_steps=false" if not allowed else why_not_lean(trainer, module)
        self.lean = why_not is None
        log.debug("optimizer steps: " + ("the lean path" if self.lean else f"through Lightning's calls ({why_not})"))

    def take(self, module, optimizer, loss: Tensor, adjust) -> None:
        """zero_grad, backward over `loss`, `adjust(params)`, the optimizer's step."""
        if self.lean:
            lean_step(optimizer, loss, adjust)
        else:
            lightning_step(module, optimizer, loss, adjust)

    def take_together(self, module, pairs: list[tuple], adjust) -> None:
        """Simultaneous steps from one forward pass (PacGAN's code, via ALI's algorithm): each optimizer's gradient
        from its own loss alone (a backward restricted to its parameters), every gradient made before any step."""
        for optimizer, _ in pairs:
            for p in optimizer.param_groups[0]["params"]:
                p.grad = None
        for k, (optimizer, loss) in enumerate(pairs):
            params, retain = optimizer.param_groups[0]["params"], k < len(pairs) - 1
            if self.lean:
                loss.backward(inputs=params, retain_graph=retain)
            else:
                module.manual_backward(loss, inputs=params, retain_graph=retain)
        for optimizer, _ in pairs:
            adjust(optimizer.param_groups[0]["params"])
        for optimizer, _ in pairs:
            if not self.lean:
                optimizer.step()
                continue
            optimizer._on_before_step()
            if not fused_adam_step(optimizer.optimizer):
                optimizer.optimizer.step()
            optimizer._on_after_step()


def lightning_step(module, optimizer, loss: Tensor, adjust) -> None:
    """The same through Lightning's calls (its strategy, precision plugin and hooks). Its backward makes every
    parameter's gradient: DDP's reducer waits for all of them (G's update makes D's too, as Lightning's examples
    do); the steps are the same."""
    optimizer.zero_grad(set_to_none=True)
    module.manual_backward(loss)
    adjust(optimizer.param_groups[0]["params"])
    optimizer.step()


def check_counted(trainer, before: int, steps: int) -> None:
    """Stop a lean run whose steps Lightning did not count (a Lightning whose manual optimization changed)."""
    if trainer.global_step != before + steps:
        raise RuntimeError(
            f"Lightning counted {trainer.global_step - before} of this training_step's {steps} optimizer steps on"
            " curvegan's lean path; run with model.lean_steps=false to take every step through Lightning's calls"
        )


@torch.no_grad()
def freeze(module, newly: Tensor, snapshot: list[Tensor], optimizers) -> None:
    """Put back the weights of the `newly` diverged members from before the step and zero their Adam state."""
    for p, before in zip(module.parameters(), snapshot, strict=True):
        p.copy_(torch.where(broadcast_members(newly, p), before, p))
    for optimizer in optimizers:
        for state in optimizer.optimizer.state.values():
            for name, value in state.items():
                if name != "step" and value.dim() > 0:
                    value.copy_(torch.where(broadcast_members(newly, value), 0.0, value))
