"""PacGAN (Lin et al., 2018): D scores `pack` samples at once, concatenated, and seeing several samples together
lets it notice a lack of variety. Packing is a reshape of D's input: [members, n, f] → [members, n / pack,
pack · f] (the batch a multiple of pack: data.batch_size is checked against model.pack)."""

from __future__ import annotations

from torch import Tensor


def packed(features: Tensor, pack: int) -> Tensor:
    if pack == 1:
        return features
    members, n, f = features.shape
    return features.reshape(members, n // pack, pack * f)
