"""The two networks, as ensembles: K independent MLPs held as one, their weights stacked on a leading member axis.

Every tensor that flows through them keeps that axis first: noise [members, n, latent] → curves
[members, n, points] → logits [members, n, 1]. A single GAN is an ensemble of one; there is no other code path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

# Why stacked weights and torch.baddbmm rather than torch.func.vmap over ordinary nn.Modules: for networks this
# small the cost is per-call overhead, and one batched matmul per layer has the least of it. Measured for this
# GAN on one CPU thread (steps/s at K = 1, 8, 64, 256): baddbmm layers 447, 377, 184, 77; vmap over
# functional_call 269, 168, 114, 46 (../shared/STYLE.md; mbrl-lib's EnsembleLinearLayer does the same).


class EnsembleLinear(nn.Module):
    """`members` independent linear layers: x [members, n, in] → x @ weight + bias, [members, n, out].

    weight is [members, in, out] and bias [members, 1, out]. Each member starts as nn.Linear(in, out) would
    (uniform on ±1/√in: the fan-in is `in`, not members × in); an ensemble of one draws exactly the numbers
    nn.Linear would from the same random state.
    """

    def __init__(self, members: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        weight = torch.empty(members, out_features, in_features).uniform_(-bound, bound)
        self.weight = nn.Parameter(weight.transpose(1, 2).contiguous())
        self.bias = nn.Parameter(torch.empty(members, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, members: slice | None = None) -> torch.Tensor:
        """`members` picks a contiguous run of members (a view, no copy); x then carries only those."""
        if members is None:
            return torch.baddbmm(self.bias, x, self.weight)
        return torch.baddbmm(self.bias[members], x, self.weight[members])

    def extra_repr(self) -> str:
        members, in_features, out_features = self.weight.shape
        return f"members={members}, in_features={in_features}, out_features={out_features}"


class EnsembleMLP(nn.Module):
    """Linear → ReLU for each hidden width, then a final Linear with no activation; one per member."""

    def __init__(self, members: int, in_features: int, hidden: Sequence[int], out_features: int):
        super().__init__()
        sizes = [in_features, *hidden, out_features]
        self.layers = nn.ModuleList(EnsembleLinear(members, i, o) for i, o in zip(sizes, sizes[1:], strict=False))

    def forward(self, x: torch.Tensor, members: slice | None = None) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x if i == 0 else x.relu(), members)
        return x


def per_member_finite(module: nn.Module) -> torch.Tensor:
    """[members] bool: whether every parameter of each member is finite."""
    return torch.stack([p.detach().flatten(1).isfinite().all(dim=1) for p in module.parameters()]).all(dim=0)
