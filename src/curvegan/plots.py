"""Pictures of curves: generated curves drawn over the band the real family fills."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curvegan.data import quadratic_curves


def curves_figure(
    curves: torch.Tensor,
    x: torch.Tensor,
    a_min: float,
    a_max: float,
    title: str = "",
    size: tuple[float, float] = (5.0, 3.6),
    dpi: int = 80,
) -> Figure:
    """Generated curves (blue) over the real family's band from a_min to a_max (grey)."""
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = x.numpy()
    low, high = quadratic_curves(torch.tensor([a_min, a_max]), x).numpy()
    ax.fill_between(xs, low, high, color="0.85", label=f"real family, a ∈ [{a_min:g}, {a_max:g}]")
    ax.plot(xs, curves.detach().cpu().numpy().T, color="tab:blue", alpha=0.45, lw=1)
    ax.plot([], [], color="tab:blue", label="generated")
    span = high.max() - low.min()
    ax.set_ylim(low.min() - 0.25 * span, high.max() + 0.25 * span)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="upper center", fontsize="small", frameon=False)
    if title:
        ax.set_title(title, fontsize="small")
    fig.tight_layout()
    return fig


def figure_rgb(fig: Figure) -> np.ndarray:
    """Render a figure to an RGB uint8 array [height, width, 3]."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def latent_walk_figure(
    walks: torch.Tensor,
    values: torch.Tensor,
    x: torch.Tensor,
    a_min: float,
    a_max: float,
    dpi: int = 80,
) -> Figure:
    """One panel per latent dimension: the curves [dims, steps, points] met while moving along it.

    Colour runs from the lowest to the highest value of that coordinate (`values`, [steps]).
    """
    dims = walks.shape[0]
    cols = min(dims, 5)
    rows = -(-dims // cols)
    fig = Figure(figsize=(2.4 * cols, 2.1 * rows + 0.4), dpi=dpi)
    FigureCanvasAgg(fig)
    xs = x.numpy()
    low, high = quadratic_curves(torch.tensor([a_min, a_max]), x).numpy()
    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(values.min().item(), values.max().item())
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    for d, ax in enumerate(axes.flat):
        if d >= dims:
            ax.axis("off")
            continue
        ax.fill_between(xs, low, high, color="0.88")
        for v, curve in zip(values, walks[d], strict=True):
            ax.plot(xs, curve.numpy(), color=cmap(norm(v.item())), lw=1.2)
        ax.set_title(f"z[{d}]", fontsize="small")
        ax.tick_params(labelsize="x-small")
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8, label="value of z[d]")
    fig.suptitle("Latent walk: one coordinate moves, the others stay at 0", fontsize="small")
    return fig
