"""Pictures of samples: generated samples over where the real ones lie, one panel per member shown. The family
says how its samples are drawn (lines for curves, a scatter for points); this module lays out the panels.

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

from curvegan.families import Family

DPI = 100
PANEL_WIDTH, PANEL_HEIGHT, COLUMNS = 2.0, 1.6, 4  # inches, for each panel of an ensemble's figure
PANEL_SAMPLES = 16  # samples per panel when there are several panels
FONT = {"font.size": 10, "axes.titlesize": 11, "figure.titlesize": 13, "legend.fontsize": 10}


class SamplePlot:
    """A figure of `panels` panels of `n` samples each over the real family, built once and redrawn with new
    samples and titles (blitting: only the samples and the titles are drawn again).

    `style` (from the variant): `colors` [n] colours each sample the same way every time (a requested a, a code
    value); `references` [r, dim] are real samples drawn dashed beneath them in every panel (the true curves of
    a cGAN's requests), coloured by `reference_colors`; `legend` labels the samples.
    """

    def __init__(self, family: Family, n: int, panels: int = 1, style: dict | None = None):
        style = style or {}
        self.family = family
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
            self.artists, self.titles = [], []
            references = style.get("references")
            for ax in axes:
                family.background(ax)
                if references is not None:
                    shown = family.artists(ax, len(references), style.get("reference_colors"))
                    family.update(shown, references)
                    for artist in shown:
                        artist.set(linestyle="--", alpha=0.9, lw=0.9, zorder=1)
                self.artists.append(family.artists(ax, n, style.get("colors")))
                self.titles.append(ax.set_title(""))
            first = axes[0]
            if panels == 1:
                first.set_xlabel(family.axis_labels()[0])
                first.set_ylabel(family.axis_labels()[1])
                first.plot(
                    [], [], color="tab:blue" if style.get("colors") is None else "0.3", label=style.get("legend")
                )
                first.fill_between([], [], [], color="0.85", label="real family")
                first.legend(loc="upper center", frameon=False, ncols=2 if len(style.get("legend", "")) < 20 else 1)
            self.suptitle = self.fig.suptitle("") if panels > 1 else None
            self._background = None  # the figure without samples and titles, drawn once

    def moving(self) -> list:
        artists = [a for panel in self.artists for a in panel] + self.titles
        return artists + ([self.suptitle] if self.suptitle is not None else [])

    def render(self, samples: torch.Tensor, titles: list[str], suptitle: str = "") -> np.ndarray:
        """The figure with samples [panels, n, dim] and one title per panel, as RGB [height, width, 3]."""
        canvas = self.fig.canvas
        moving = self.moving()
        if self._background is None:
            for artist in moving:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for artist in moving:
                artist.set_visible(True)
        for artists, panel, title, text in zip(self.artists, samples, titles, self.titles, strict=True):
            self.family.update(artists, panel)
            text.set_text(title)
        if self.suptitle is not None:
            self.suptitle.set_text(suptitle)
        canvas.restore_region(self._background)
        for artist in moving:
            (artist.axes or self.fig).draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def samples_figure(samples: torch.Tensor, family: Family, title: str = "") -> Figure:
    """A single panel of samples [n, dim] over the real family (the sampler's picture)."""
    plot = SamplePlot(family, len(samples))
    plot.render(samples[None], [title])
    return plot.fig


def latent_walk_figure(walks: torch.Tensor, values: torch.Tensor, labels: list[str], family: Family) -> Figure:
    """One panel per latent coordinate: the samples [dims, steps, dim] met while moving along it.

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
            family.background(ax)
            low, high = values[d].min().item(), values[d].max().item()
            colors = [cmap((v - low) / (high - low)) for v in values[d].tolist()]
            family.update(family.artists(ax, len(walks[d]), colors), walks[d])
            ax.set_title(f"{labels[d]}: {low:g} to {high:g}")
        norm = mpl.colors.Normalize(0, 1)
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, shrink=0.8, ticks=[0, 1])
        bar.ax.set_yticklabels(["low", "high"])
        fig.suptitle("Walk: one coordinate moves, the others stay at 0")
    return fig


def parameter_histogram(values: torch.Tensor, family: Family, title: str = "") -> np.ndarray:
    """The fitted parameter of generated samples against the family's modes (shaded), as RGB: a mode with no
    bar over its band is one the generator misses. Values outside the plotted range are counted, not drawn."""
    with mpl.rc_context(FONT):
        fig = Figure(figsize=(5.0, 3.0), dpi=DPI)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        low, high = family.parameter_range()
        span = high - low
        lo, hi = low - 0.1 * span, high + 0.1 * span
        for band_low, band_high in family.parameter_modes() or []:
            ax.axvspan(band_low, band_high, color="0.8", lw=0)
        values = values[values.isfinite()]
        inside = values[(values >= lo) & (values <= hi)]
        ax.hist(inside.numpy(), bins=200, range=(lo, hi), color="tab:blue")
        outside = len(values) - len(inside)
        ax.set_xlabel(f"fitted {family.parameter} (grey: the modes)")
        ax.set_ylabel("samples")
        ax.set_title(title + (f"\n{outside} of {len(values)} outside the range shown" if outside else ""))
        fig.subplots_adjust(left=0.15, right=0.97, bottom=0.18, top=0.82)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
