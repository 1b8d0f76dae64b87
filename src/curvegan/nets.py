"""The networks, as ensembles: K independent MLPs held as one, their weights stacked on a leading member axis.

Every tensor that flows through them keeps that axis first: noise [members, n, latent] → samples
[members, n, dim] → logits [members, n, 1]. A single GAN is an ensemble of one; there is no other code path.
Every layer is member-wise: its own weights and, for batch norm, its own batch statistics per member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from curvegan.keys import BOOLEAN, WIDTHS, choice, key, number, optional, settings, whole

# Why stacked weights and torch.baddbmm rather than torch.func.vmap over ordinary nn.Modules: for networks this
# small the cost is per-call overhead, and one batched matmul per layer has the least of it. Measured for this
# GAN on one CPU thread (steps/s at K = 1, 8, 64, 256): baddbmm layers 447, 377, 184, 77; vmap over
# functional_call 269, 168, 114, 46 (../shared/STYLE.md; mbrl-lib's EnsembleLinearLayer does the same).


class EnsembleLinear(nn.Module):
    """`members` independent linear layers: x [members, n, in] → x @ weight + bias, [members, n, out].

    weight is [members, in, out] and bias [members, 1, out] (None without a bias). Each member starts as
    nn.Linear(in, out) would (uniform on ±1/√in: the fan-in is `in`, not members × in), so an ensemble of one
    draws exactly the numbers nn.Linear would from the same random state; or, with `init_std`, weights from
    N(0, init_std²) and zero biases.
    """

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True, init_std=None):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        weight = torch.empty(members, out_features, in_features)
        weight.uniform_(-bound, bound) if init_std is None else weight.normal_(0, init_std)
        self.weight = nn.Parameter(weight.transpose(1, 2).contiguous())
        self.bias = None
        if bias:
            initial = torch.empty(members, 1, out_features)
            initial.uniform_(-bound, bound) if init_std is None else initial.zero_()
            self.bias = nn.Parameter(initial)

    def forward(self, x: torch.Tensor, members: slice | None = None) -> torch.Tensor:
        """`members` picks a contiguous run of members (a view, no copy); x then carries only those."""
        weight = self.weight if members is None else self.weight[members]
        if self.bias is None:
            return torch.bmm(x, weight)
        return torch.baddbmm(self.bias if members is None else self.bias[members], x, weight)

    def extra_repr(self) -> str:
        members, in_features, out_features = self.weight.shape
        return f"members={members}, in_features={in_features}, out_features={out_features}"


class EnsembleBatchNorm(nn.Module):
    """Batch norm over each member's own batch: x [members, n, f] is normalised per member and feature, and
    each member keeps its own running statistics [members, 1, f] (one set shared by all would couple them).

    With `slots` > 1, training normalises each slot's samples by their own statistics: sample i belongs to slot
    i mod slots, as packing (curvegan.packing) puts sample i in slot i mod pack of its pack, so each slot's samples
    are what PacGAN's G makes in one call (its code calls G once per slot, on a batch of 100). The running
    statistics take the slots' mean."""

    def __init__(self, members: int, features: int, momentum: float = 0.1, eps: float = 1e-5, slots: int = 1):
        super().__init__()
        self.momentum, self.eps, self.slots = momentum, eps, slots
        self.weight = nn.Parameter(torch.ones(members, 1, features))
        self.bias = nn.Parameter(torch.zeros(members, 1, features))
        self.register_buffer("running_mean", torch.zeros(members, 1, features))
        self.register_buffer("running_var", torch.ones(members, 1, features))

    def forward(self, x: torch.Tensor, members: slice | None = None) -> torch.Tensor:
        pick = slice(None) if members is None else members
        if self.training and self.slots > 1 and x.shape[1] % self.slots == 0:
            members_, n, features = x.shape
            slotted = x.view(members_, n // self.slots, self.slots, features)  # [members, packs, slots, f]
            var, mean = torch.var_mean(slotted, dim=1, keepdim=True, correction=0)
            with torch.no_grad():
                per_slot = n // self.slots
                unbiased = var * (per_slot / max(per_slot - 1, 1))
                self.running_mean[pick].lerp_(mean.mean(dim=2), self.momentum)
                self.running_var[pick].lerp_(unbiased.mean(dim=2), self.momentum)
            normed = (slotted - mean) * torch.rsqrt(var + self.eps)
            return normed.view(members_, n, features) * self.weight[pick] + self.bias[pick]
        if self.training:
            var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
            with torch.no_grad():  # as torch's BatchNorm: the running variance is the unbiased one
                n = x.shape[1]
                unbiased = var * (n / max(n - 1, 1))
                self.running_mean[pick].lerp_(mean, self.momentum)
                self.running_var[pick].lerp_(unbiased, self.momentum)
        else:
            mean, var = self.running_mean[pick], self.running_var[pick]
        return (x - mean) * torch.rsqrt(var + self.eps) * self.weight[pick] + self.bias[pick]


class EnsembleMLP(nn.Module):
    """A member-wise MLP: for each hidden width a linear layer, then (with norm=batch) batch norm, then the
    activation (ReLU, or maxout over `pieces` linear pieces); a final linear layer with no activation.

    With batch norm a hidden layer has no bias of its own (the norm's shift takes its place, as PacGAN's G)."""

    @dataclass
    class Config:
        hidden: list[int] = key([32], WIDTHS, "hidden widths, one per layer ([] for none)")
        activation: str = key("relu", choice("relu", "maxout"), "the hidden layers' activation")
        pieces: int = key(5, whole(2), "activation=maxout: linear pieces per unit")
        norm: str | None = key(None, optional(choice("batch")), "null, or batch: batch norm before each activation")
        momentum: float = key(0.1, number(above=0, below=1), "norm=batch: the running statistics' momentum")
        norm_slots: int = key(
            1,
            whole(1),
            "norm=batch: statistics per slot of a pack (sample i in slot i mod slots; PacGAN's G: model.pack); 1: all",
        )
        init_std: float | None = key(
            None,
            optional(number(above=0)),
            "null: nn.Linear's initialisation; a number: N(0, std²) weights, zero biases",
        )
        bias: bool = key(True, BOOLEAN, "the hidden layers' biases (none with norm=batch)")

    def __init__(self, members: int, in_features: int, out_features: int, **config):
        super().__init__()
        c = self.config = settings(type(self), config)
        pieces = c.pieces if c.activation == "maxout" else 1
        sizes = [in_features, *c.hidden]
        self.layers = nn.ModuleList(
            EnsembleLinear(members, i, o * pieces, bias=c.bias and c.norm is None, init_std=c.init_std)
            for i, o in zip(sizes, sizes[1:], strict=False)
        )
        self.layers.append(EnsembleLinear(members, sizes[-1], out_features, init_std=c.init_std))
        # batch norm before the activation: over every piece of a maxout unit
        norms = (EnsembleBatchNorm(members, o * pieces, c.momentum, slots=c.norm_slots) for o in c.hidden)
        self.norms = nn.ModuleList(norms) if c.norm else None
        self.pieces = pieces

    def forward(self, x: torch.Tensor, members: slice | None = None) -> torch.Tensor:
        *hidden, last = self.layers
        for i, layer in enumerate(hidden):
            x = layer(x, members)
            if self.norms is not None:
                x = self.norms[i](x, members)
            x = x.relu() if self.pieces == 1 else x.unflatten(-1, (-1, self.pieces)).amax(dim=-1)
        return last(x, members)


def per_member_finite(module: nn.Module) -> torch.Tensor:
    """[members] bool: whether every parameter of each member is finite."""
    return torch.stack([p.detach().flatten(1).isfinite().all(dim=1) for p in module.parameters()]).all(dim=0)
