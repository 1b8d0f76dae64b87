"""Pictures of curves: generated curves drawn over the band the real family fills, one panel per member shown.

Sized to be read where they are looked at: TensorBoard shows an image scaled to its card, about 500 pixels
wide by default, so a single run's figure is that wide with text of 14-15 pixels; an ensemble's figure is four
panels (800 pixels) wide, its titles short and large enough to stay legible scaled to the card.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curvegan.data import quadratic_curves
from curvegan.families import Family, NormalMixture

DPI = 100
PANEL_WIDTH, PANEL_HEIGHT, COLUMNS = 2.0, 1.6, 4  # inches, for each panel of an ensemble's figure
PANEL_CURVES = 16  # curves per panel when there are several panels
FONT = {"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 13, "legend.fontsize": 10}


def draw_family(ax, x: torch.Tensor, family: Family) -> None:
    """The real family's band in grey; for a mixture, one darker band per mode (centre ± 3 mode_std)."""
    xs = x.numpy()
    low, high = quadratic_curves(torch.tensor(family.band), x).numpy()
    if isinstance(family, NormalMixture):
        ax.fill_between(xs, low, high, color="0.93")
        for centre in family.centres.tolist():
            spread = 3 * family.mode_std
            lo, hi = quadratic_curves(torch.tensor([centre - spread, centre + spread]), x).numpy()
            ax.fill_between(xs, lo, hi, color="0.75", lw=0)
    else:
        ax.fill_between(xs, low, high, color="0.85")
    span = high.max() - low.min()
    ax.set_ylim(min(low.min(), high.min()) - 0.25 * span, max(high.max(), low.max()) + 0.25 * span)


class CurvePlot:
    """A figure of `panels` panels of `n` curves each over the real band, built once and redrawn with new
    curves and titles (blitting: only the curves and the titles are drawn again).

    `colors` [n] colours each curve the same way every time (a requested a, a code value); `references`
    [n, points] are curves drawn dashed beneath them in every panel (the true curves for a cGAN's requests).
    """

    def __init__(
        self,
        x: torch.Tensor,
        family: Family,
        n: int,
        panels: int = 1,
        colors: list | None = None,
        references: torch.Tensor | None = None,
        legend: str = "generated",
    ):
        with mpl.rc_context(FONT):
            if panels == 1:
                self.fig = Figure(figsize=(5.0, 3.7), dpi=DPI)
                axes = [self.fig.add_subplot()]
                self.fig.subplots_adjust(left=0.14, right=0.97, bottom=0.13, top=0.86)
            else:
                cols = min(COLUMNS, panels)
                rows = -(-panels // cols)
                height = rows * PANEL_HEIGHT + 1.1
                self.fig = Figure(figsize=(cols * PANEL_WIDTH + 0.4, height), dpi=DPI)
                grid = self.fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
                axes = list(grid.flat)
                for ax in axes[panels:]:
                    ax.axis("off")
                axes = axes[:panels]
                self.fig.subplots_adjust(
                    left=0.5 / (cols * PANEL_WIDTH + 0.4),
                    right=0.99,
                    bottom=0.35 / height,
                    top=1 - 0.95 / height,
                    hspace=0.4,
                    wspace=0.06,
                )
            FigureCanvasAgg(self.fig)
            xs = x.numpy()
            self.lines, self.titles = [], []
            for ax in axes:
                draw_family(ax, x, family)
                if references is not None:
                    ax.plot(xs, references.numpy().T, color="0.35", lw=0.8, ls="--")
                lines = ax.plot(xs, np.zeros((len(xs), n)), alpha=0.55, lw=1.1)
                for i, line in enumerate(lines):
                    line.set_color(colors[i] if colors is not None else "tab:blue")
                self.lines.append(lines)
                self.titles.append(ax.set_title(""))
            first = axes[0]
            if panels == 1:
                first.set_xlabel("x")
                first.set_ylabel("y")
                first.plot([], [], color="tab:blue" if colors is None else "0.3", label=legend)
                first.fill_between([], [], [], color="0.85", label="real family")
                first.legend(loc="upper center", frameon=False, ncols=2 if len(legend) < 20 else 1)
            self.suptitle = self.fig.suptitle("") if panels > 1 else None
            self._background = None  # the figure without curves and titles, drawn once

    def render(self, curves: torch.Tensor, titles: list[str], suptitle: str = "") -> np.ndarray:
        """The figure with curves [panels, n, points] and one title per panel, as RGB [height, width, 3]."""
        canvas = self.fig.canvas
        moving = [line for lines in self.lines for line in lines] + self.titles
        moving += [self.suptitle] if self.suptitle is not None else []
        if self._background is None:
            for artist in moving:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for artist in moving:
                artist.set_visible(True)
        for lines, panel_curves, title, text in zip(self.lines, curves.numpy(), titles, self.titles, strict=True):
            for line, curve in zip(lines, panel_curves, strict=True):
                line.set_ydata(curve)
            text.set_text(title)
        if self.suptitle is not None:
            self.suptitle.set_text(suptitle)
        canvas.restore_region(self._background)
        for artist in moving:
            (artist.axes or self.fig).draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def curves_figure(curves: torch.Tensor, x: torch.Tensor, family: Family, title: str = "") -> Figure:
    """A single panel of curves [n, points] over the real family (the sampler's picture)."""
    plot = CurvePlot(x, family, len(curves))
    plot.render(curves[None], [title])
    return plot.fig


def latent_walk_figure(
    walks: torch.Tensor, values: torch.Tensor, labels: list[str], x: torch.Tensor, family: Family
) -> Figure:
    """One panel per latent coordinate: the curves [dims, steps, points] met while moving along it.

    Colour runs from the lowest to the highest value of that coordinate (`values`, [dims, steps]).
    """
    dims = walks.shape[0]
    cols = min(dims, 4)
    rows = -(-dims // cols)
    with mpl.rc_context(FONT):
        fig = Figure(figsize=(2.6 * cols + 1.0, 2.2 * rows + 0.6), dpi=DPI)
        FigureCanvasAgg(fig)
        cmap = mpl.colormaps["viridis"]
        axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
        for d, ax in enumerate(axes.flat):
            if d >= dims:
                ax.axis("off")
                continue
            draw_family(ax, x, family)
            low, high = values[d].min().item(), values[d].max().item()
            for v, curve in zip(values[d], walks[d], strict=True):
                ax.plot(x.numpy(), curve.numpy(), color=cmap((v.item() - low) / (high - low)), lw=1.2)
            ax.set_title(f"{labels[d]}: {low:g} to {high:g}")
        norm = mpl.colors.Normalize(0, 1)
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        fig.suptitle("Walk: one coordinate moves, the others stay at 0")
    return fig


def a_histogram(a: torch.Tensor, family: NormalMixture, title: str = "") -> np.ndarray:
    """The fitted a* of generated curves against the mixture's modes (centre ± 3 mode_std shaded), as RGB: a mode
    with no bar over its band is one the generator misses."""
    with mpl.rc_context(FONT):
        fig = Figure(figsize=(5.0, 3.0), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        low, high = family.band
        span = high - low
        spread = 3 * family.mode_std
        for centre in family.centres.tolist():
            ax.axvspan(centre - spread, centre + spread, color="0.8", lw=0)
        ax.hist(
            a.clamp(low - 0.1 * span, high + 0.1 * span).numpy(),
            bins=200,
            range=(low - 0.1 * span, high + 0.1 * span),
            color="tab:blue",
        )
        ax.set_xlabel("fitted a* (grey: the modes)")
        ax.set_ylabel("curves")
        ax.set_title(title)
        fig.subplots_adjust(left=0.15, right=0.97, bottom=0.18, top=0.88)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
