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
    plot = CurvePlot(x, a_min, a_max, len(curves), size, dpi)
    plot.update(curves, title)
    return plot.fig


class CurvePlot:
    """A figure of `n` curves over the real band, built once and redrawn with new curves.

    Training draws one every epoch; updating the lines of one figure costs a fraction of building a new one.
    """

    def __init__(self, x: torch.Tensor, a_min: float, a_max: float, n: int, size=(5.0, 3.6), dpi: int = 80):
        self.fig = Figure(figsize=size, dpi=dpi)
        FigureCanvasAgg(self.fig)
        self.fig.subplots_adjust(left=0.12, right=0.97, bottom=0.13, top=0.9)  # fixed: no tight_layout per frame
        ax = self.fig.add_subplot()
        xs = x.numpy()
        low, high = quadratic_curves(torch.tensor([a_min, a_max]), x).numpy()
        ax.fill_between(xs, low, high, color="0.85", label=f"real family, a ∈ [{a_min:g}, {a_max:g}]")
        self.lines = ax.plot(xs, np.tile(low, (n, 1)).T, color="tab:blue", alpha=0.45, lw=1)
        ax.plot([], [], color="tab:blue", label="generated")
        span = high.max() - low.min()
        ax.set_ylim(low.min() - 0.25 * span, high.max() + 0.25 * span)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(loc="upper center", fontsize="small", frameon=False)
        self.title = ax.set_title("", fontsize="small")
        self.ax = ax
        self._background = None  # the figure without curves and title, drawn once

    def update(self, curves: torch.Tensor, title: str = "") -> None:
        for line, curve in zip(self.lines, curves.detach().cpu().numpy(), strict=True):
            line.set_ydata(curve)
        self.title.set_text(title)

    def render(self, curves: torch.Tensor, title: str = "") -> np.ndarray:
        """The figure with these curves, as an RGB array [height, width, 3].

        Only the curves and the title are drawn each time, over a saved picture of the rest (blitting).
        """
        canvas = self.fig.canvas
        moving = [*self.lines, self.title]
        if self._background is None:
            for artist in moving:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for artist in moving:
                artist.set_visible(True)
        self.update(curves, title)
        canvas.restore_region(self._background)
        for artist in moving:
            self.ax.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


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
