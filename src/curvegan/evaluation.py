"""Measuring every member: the family's exact metrics, the variant's own and (evaluation.generic) the generic
ones (curvegan.generic), on samples from fixed inputs; and the final record of a run (metrics.json's numbers,
samples.npy). `settings` are the run's `evaluation` keys (curvegan.config.Evaluation), as a dict or an object."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from curvegan.files import atomic
from curvegan.metrics import declarations, summarize


def member_chunks(gan, n: int) -> Iterator[slice]:
    """Runs of members small enough that their n samples' activations stay within about 32 MB on the CPU (the
    process's peak memory), 256 MB on a GPU (fewer, larger operations)."""
    widest = max([p.shape[-1] for p in gan.sampler.parameters() if p.dim() == 3] + [gan.family.dim])
    widest = max([widest] + [p.shape[-1] for p in gan.discriminator.parameters() if p.dim() == 3])
    budget = 2**23 if gan.device.type == "cpu" else 2**26
    step = max(1, budget // (n * widest))
    for first in range(0, gan.members, step):
        yield slice(first, min(first + step, gan.members))


class Evaluator:
    """The run's evaluation settings, and the generic metrics' reference set, made once (on the model's device)."""

    def __init__(self, settings):
        get = settings.__getitem__ if isinstance(settings, dict) else lambda key: getattr(settings, key)
        self.n, self.seed, self.generic = get("num_samples"), get("seed"), get("generic")
        self.reference_args = (get("reference_samples"), get("reference_seed"), get("neighbours"))
        self._reference = None
        self._shared: tuple | None = None  # (model, G updates, epoch, every member's quality) of a packed sweep

    def reference(self, gan):
        from curvegan.generic import Reference

        if self._reference is None or self._reference.real.device != gan.device:
            self._reference = Reference.of(gan.family, *self.reference_args, gan.device)
        return self._reference

    def __call__(self, gan, each: Callable[[Tensor], None] | None = None, epoch: bool = False) -> dict[str, Tensor]:
        """Every member's quality; `epoch`: for an epoch's end, where evaluation.generic=auto leaves the generic
        metrics out from GENERIC_EVERY_EPOCH_BELOW members (they are in the final record whatever the size)."""
        from curvegan.config import GENERIC_EVERY_EPOCH_BELOW

        whole = getattr(gan, "whole", None)  # a job's view of a packed sweep's model (curvegan.packed)
        # auto's rule weighs the cost of the ensemble that trains: a packed sweep's, not one job's
        members = (whole or gan).members
        auto = self.generic == "auto" and (not epoch or members < GENERIC_EVERY_EPOCH_BELOW)
        generic = self.generic is True or auto
        if whole is not None and each is None:
            # the whole model measured once per epoch, shared by its jobs' monitors; each takes its members
            found, at = self._shared, (whole.g_updates, generic)
            if found is None or found[0] is not whole or found[1] != at:
                reference = self.reference(whole) if generic else None
                self._shared = found = (whole, at, evaluate(whole, self.n, self.seed, None, reference))
            return {name: values[gan.slice] for name, values in found[2].items()}
        return evaluate(gan, self.n, self.seed, each, self.reference(gan) if generic else None)


@torch.no_grad()
def evaluate(gan, n: int, seed: int, each: Callable[[Tensor], None] | None = None, reference=None) -> dict:
    """Every member's quality on n samples, {metric: [members]}, every member drawing from the same fixed
    inputs (`seed`), so members compare like with like; with a `reference` (curvegan.generic), the generic
    metrics too. Members go a run at a time (`member_chunks`); `each(samples)`, if given, sees each run's
    samples [m, n, dim] on the CPU, in member order."""
    from curvegan.sampling import evaluation_inputs

    inputs, fixed = evaluation_inputs(gan, n, seed)
    requests = fixed.known.get("request_inputs")
    per_member: dict[str, list] = {}
    for members in member_chunks(gan, n):
        samples = gan.generate(inputs, members)
        requested = None if requests is None else gan.generate(requests, members)
        quality = gan.family.quality(samples) | gan.variant.quality(samples, requested, fixed.known, gan.family)
        if reference is not None:
            quality |= {name: values.float() for name, values in reference.quality(samples).items()}
        if each is not None:
            each(samples.float().cpu())  # float32, whatever the model's precision
        for name, values in quality.items():
            per_member.setdefault(name, []).append(values.cpu())
    # in the order the family and the variant declare their metrics (then any other), whatever order their
    # quality dicts come in: metrics.json, the summary line and the report list them so
    declared = [m.name for m in (*gan.family.metrics, *gan.variant.metrics) if m.name in per_member]
    order = declared + [name for name in per_member if name not in declared]
    return {name: torch.cat(per_member[name]) for name in order}


def final(gan, evaluator: Evaluator, samples_path: Path | None) -> dict:
    """Every member's quality on the evaluation's samples from fixed noise, and (if samples_path) those samples as
    samples.npy, [members, n, dim] float32, written a run of members at a time (never all in memory at once)."""
    if samples_path is None:
        per_member = evaluator(gan)
    else:
        with atomic(samples_path) as partial, open(partial, "wb") as out:
            header = {"descr": "<f4", "fortran_order": False, "shape": (gan.members, evaluator.n, gan.family.dim)}
            np.lib.format.write_array_header_1_0(out, header)
            per_member = evaluator(gan, each=lambda s: out.write(s.numpy().astype("<f4").tobytes()))
    diverged = (gan.diverged_at >= 0).cpu()
    collapsed = gan.family.collapsed(per_member)
    from curvegan.memberwise import member_settings

    settings = member_settings(gan)
    rows = []
    for k in range(gan.members):
        row = {"member": k, **{name: values[k].item() for name, values in per_member.items()}}
        if settings is not None:
            row["settings"] = settings[k]  # its own value of each member-wise key given per member
        row |= {"collapsed": bool(collapsed[k]), "diverged": bool(diverged[k])}
        if diverged[k]:
            row["diverged_at"] = int(gan.diverged_at[k])
        rows.append(row)
    counts = {"diverged": int(diverged.sum()), "collapsed": int((collapsed & ~diverged).sum())}
    return {**summarize(per_member, ~diverged), "members": rows, **counts, "declarations": declarations(per_member)}
