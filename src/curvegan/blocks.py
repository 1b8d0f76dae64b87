"""The independent runs an ensemble is made of. Each member-wise value may differ between members; the seed is
one too, and it decides more than a number: the members of one *block* share a seed and train exactly as
`seed=<it> ensemble.size=<the block's size>` alone would (their initial weights, their data and every random
number of training come from that seed's streams, drawn for the block's members only). A run of one block is
the plain ensemble. Packing a sweep into one ensemble (curvegan.packed) gives each job its block.

A seed given as one number makes one block of every member; a list (one seed per member) makes a block of each
run of equal neighbouring seeds, or of the sizes `ensemble.blocks` gives (so that two jobs of the same seed stay
two blocks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor


def blocks_of(seed: Any, members: int, sizes: Sequence[int] | None = None) -> list[tuple[int, slice]]:
    """(seed, members) of each block, in member order."""
    if not isinstance(seed, list | tuple):
        return [(int(seed), slice(0, members))]
    if sizes is None:
        sizes = []
        for k, s in enumerate(seed):
            if k and s == seed[k - 1]:
                sizes[-1] += 1
            else:
                sizes.append(1)
    out, first = [], 0
    for size in sizes:
        out.append((int(seed[first]), slice(first, first + size)))
        first += size
    return out


def of_config(cfg) -> tuple[Any, list[int] | None]:
    """A run config's seed (a number, or a list of one per member) and ensemble.blocks, as plain values."""
    from omegaconf import OmegaConf

    seed, sizes = cfg.seed, cfg.ensemble.get("blocks")
    seed = OmegaConf.to_container(seed, resolve=True) if OmegaConf.is_list(seed) else seed
    return seed, None if sizes is None else [int(size) for size in sizes]


def of_run(cfg) -> list[tuple[int, slice]]:
    """(seed, members) of each block of a run config."""
    seed, sizes = of_config(cfg)
    return blocks_of(seed, int(cfg.ensemble.size), sizes)


def wrong_blocks(seed: Any, members: int, sizes: Any) -> tuple[str, Any, str] | None:
    """(key, value, allowed) where ensemble.blocks does not split the ensemble, or a block's members do not
    share a seed; None when they are right."""
    if sizes is None:
        return None
    if sum(sizes) != members:
        return "ensemble.blocks", list(sizes), f"block sizes that add up to ensemble.size ({members})"
    if isinstance(seed, list | tuple):
        for first, size in zip(_starts(sizes), sizes, strict=True):
            if len(set(seed[first : first + size])) != 1:
                return "seed", list(seed), "one seed for all the members of each block of ensemble.blocks"
    return None


def _starts(sizes: Sequence[int]) -> list[int]:
    out, first = [], 0
    for size in sizes:
        out.append(first)
        first += size
    return out


def size_of(block: tuple[int, slice]) -> int:
    return block[1].stop - block[1].start


def drawn(runs: list[tuple[int, slice]], make: Callable[[int, int], Tensor], dim: int = 0) -> Tensor:
    """What each block draws for its own members (`make(block index, its size)`), joined along the member axis."""
    if len(runs) == 1:
        return make(0, size_of(runs[0]))
    return torch.cat([make(j, size_of(block)) for j, block in enumerate(runs)], dim=dim)
