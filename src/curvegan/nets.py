"""The two networks: plain MLPs, so the LightningModule holds only the training logic."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn


def mlp(in_features: int, hidden: Sequence[int], out_features: int) -> nn.Sequential:
    """Linear → ReLU for each hidden width, then a final Linear with no activation."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(*layers)


def generator(latent_dim: int, hidden: Sequence[int], num_points: int) -> nn.Sequential:
    """Noise [n, latent_dim] → curves [n, num_points]."""
    return mlp(latent_dim, hidden, num_points)


def discriminator(num_points: int, hidden: Sequence[int]) -> nn.Sequential:
    """Curves [n, num_points] → one logit each, [n, 1]."""
    return mlp(num_points, hidden, 1)
