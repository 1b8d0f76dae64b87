"""Divergence, member by member: a member whose losses or parameters stop being finite is frozen (its weights from
before the step, its Adam state zeroed, no further update) while the others train on; only when every member has
diverged does training stop."""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from curvegan import nets, stepping

log = logging.getLogger(__name__)


class Diverged(RuntimeError):
    """Every member's losses or parameters stopped being finite."""


def freeze_diverged(gan, per_update: Tensor, snapshot: list[Tensor], optimizers) -> bool:
    """Freeze each member of `gan` whose losses ([updates, 4, members]) or parameters stopped being finite in this
    step, recording the G update it went bad at; whether any was frozen. Raises Diverged when none is left."""
    finite = per_update.isfinite().flatten(0, 1).all(dim=0) & nets.per_member_finite(gan)
    newly = finite.logical_not() & (gan.diverged_at < 0)
    if not newly.any():
        return False
    rows = per_update.isfinite().all(dim=1).logical_not()  # [k, members]: which updates went bad
    first_bad = torch.where(rows.any(dim=0), rows.float().argmax(dim=0), len(per_update) - 1)
    at = gan.g_updates - len(per_update) + first_bad + 1
    gan.diverged_at.copy_(torch.where(newly, at, gan.diverged_at))
    stepping.freeze(gan, newly, snapshot, optimizers)
    alive = int((gan.diverged_at < 0).sum())
    for member in newly.nonzero().flatten().tolist():
        g_loss, d_loss = per_update[first_bad[member], :2, member].tolist()
        log.warning(
            f"member {member} diverged at G update {at[member].item()} (g_loss={g_loss:.4g}, d_loss={d_loss:.4g});"
            f" frozen, {alive} of {gan.members} train on"
        )
    if alive == 0:
        member = int(newly.nonzero()[0])
        g_loss, d_loss = per_update[first_bad[member], :2, member].tolist()
        raise Diverged(
            f"training diverged at G update {at[member].item()}: g_loss={g_loss:.4g}, d_loss={d_loss:.4g}"
            + ("" if gan.members == 1 else f" (every one of the {gan.members} members has diverged)")
        )
    return True


def zero_frozen(params: list[Tensor], alive: Tensor) -> None:
    """A frozen member's gradient is zero (and so, its Adam state zeroed, its step)."""
    for p in params:
        p.grad = torch.where(stepping.broadcast_members(alive, p.grad), p.grad, 0.0)
