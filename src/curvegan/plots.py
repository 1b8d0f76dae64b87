"""Pictures of samples: generated samples over where the real ones lie. The family says how its samples are drawn
(lines for curves, a scatter for points); this module lays out panels and text.

Sized for where they are looked at. TensorBoard's default dashboard fits an image into a card about 300 × 210
pixels (in a 1400-pixel window), so a figure it gets is drawn at about twice that, 560 pixels wide at 100 dpi, with
titles, tick labels and axis labels of 16 points (22 pixels): 10-11 pixels on the card. A card holds one panel, or
three side by side. Titles are wrapped by their measured width and the margins fitted to the tick
labels, so no text runs off the canvas (tests/test_text.py). Figures for the README's column (a latent walk) are
830 pixels wide with text of 11-13 points.
"""

from __future__ import annotations

import matplotlib as mpl
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from curvegan.families import Family

DPI = 100
# On a card (a TensorBoard card shows a figure at about half size) tick labels are as large as titles: 16 points.
CARD = {"font.size": 16, "axes.titlesize": 16, "figure.titlesize": 16, "legend.fontsize": 14, "axes.labelsize": 16}
PAGE = {"font.size": 11, "axes.titlesize": 12, "figure.titlesize": 13, "legend.fontsize": 11, "axes.labelsize": 11}
PANEL_SAMPLES = 16  # samples per panel of the small multiples


def colours(values: torch.Tensor, low: float, high: float) -> list:
    """viridis colours of values over [low, high]."""
    cmap = mpl.colormaps["viridis"]
    return [cmap((v - low) / (high - low)) for v in values.tolist()]


def style_of(fixed, family: Family, n: int) -> dict:
    """How a figure shows its first n samples, from the labels the variant gave its fixed inputs (curvegan.variants
    .Fixed): colours (one each: a scale's, or one per category), the real samples of the references drawn over them
    in their colours, a colour bar and the legend."""
    style = {"legend": fixed.legend}
    if fixed.labels is None:
        if fixed.references is not None:  # a request without a scale (the sampler's a=…): its real sample, dark
            style |= {
                "references": family.samples(fixed.references),
                "reference_colors": ["0.1"] * len(fixed.references),
            }
        return style
    labels = fixed.labels[:n]
    if fixed.scale is None:  # categories
        cmap = mpl.colormaps["tab10"]
        return style | {"colors": [cmap(int(k) % 10) for k in labels.tolist()]}
    name, low, high = fixed.scale
    style |= {"colors": colours(labels, low, high), "colorbar": (name, low, high)}
    if fixed.references is not None:
        shown = fixed.references[:n]  # the distinct requests, as many as there are samples at most
        first = family.parameter_vector(shown)[:, 0]  # coloured as the labels are: by the first parameter
        style |= {"references": family.samples(shown), "reference_colors": colours(first, low, high)}
    return style


def wrap(text: str, width: int) -> str:
    """Each line of `text` broken at " · " where it is longer than `width` characters."""
    return wrap_by(text, lambda line: len(line) <= width)


def wrap_card(text: str, points: float = CARD["axes.titlesize"], inches: float = 5.3) -> str:
    """`text` broken at " · " so that each line, in a font of `points`, is at most `inches` wide: a card's title
    (measured, not counted: "m" is wider than "1")."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=points)
    return wrap_by(text, lambda line: text_to_path.get_text_width_height_descent(line, font, False)[0] <= inches * 72)


def wrap_by(text: str, fits) -> str:
    """Each line of `text` broken at " · " where `fits(line)` says it is too long."""
    lines = []
    for line in text.split("\n"):
        current = ""
        for part in line.split(" · "):
            if current and not fits(f"{current} · {part}"):
                lines.append(current)
                current = part
            else:
                current = f"{current} · {part}" if current else part
        lines.append(current)
    return "\n".join(lines)


def text_height(lines: int, points: float, spacing: float = 1.25) -> float:
    """Inches that `lines` lines of text of `points` take."""
    return lines * points * spacing / 72


class SamplePlot:
    """A figure of `panels` panels of `n` samples each over the real family, built once and redrawn with new
    samples and text (blitting: only the samples and the text are drawn again).

    Laid out by hand, text at fixed places, so that blitting redraws it where it was. One panel is a TensorBoard
    card's figure, 560 pixels wide: `lines` lines of title above the panel. More panels (`cols` to a row, three on a
    card) are a card's too, 560 pixels wide with a card's text: a header of `header_lines` and `lines` of title over
    each panel.

    `style` (from the variant): `colors` [n] colours each sample the same way every time (a requested a, a code
    value), with `colorbar` (label, low, high) saying what the colours mean; `references` [r, dim] are real samples
    drawn dashed over the generated ones, coloured by `reference_colors` (a cGAN's true curves); `legend`.
    """

    def __init__(
        self,
        family: Family,
        n: int,
        panels: int = 1,
        style: dict | None = None,
        cols: int = 1,
        lines: int = 2,
        header_lines: int = 2,
    ):
        style = dict(style or {})
        self.family = family
        card = panels == 1
        if not card:
            style.pop("colorbar", None)  # no room beside three panels on a card: the main figure has it
        rows = -(-panels // cols)
        bar = 1.2 if "colorbar" in style else 0.0  # inches on the right for the colour bar, its ticks and label
        if card:
            top = 0.14 + text_height(lines, CARD["axes.titlesize"], 1.2)
            width, height, bottom, left, title_space = 5.6, 3.44 + top, 0.58, 0.72, 0.0
        else:
            title_space = 0.08 + text_height(lines, CARD["axes.titlesize"], 1.2)  # inches above each panel
            top = 0.12 + text_height(header_lines, CARD["figure.titlesize"], 1.2) + title_space
            width, bottom, left = 5.6, 0.58, 0.5  # bottom: the x tick labels and the x label
            height = 2.2 * rows + title_space * (rows - 1) + top + bottom
        with mpl.rc_context(CARD):
            self.fig = Figure(figsize=(width, height), dpi=DPI)
            FigureCanvasAgg(self.fig)
            panel_height = (height - top - bottom - title_space * (rows - 1)) / rows
            grid = self.fig.add_gridspec(
                rows,
                cols,
                left=left / width,
                right=1 - (0.15 + bar) / width,
                top=1 - top / height,
                bottom=bottom / height,
                hspace=title_space / panel_height,
                wspace=0.3,  # room between panels for the tick labels at their edges
            )
            axes = [self.fig.add_subplot(grid[i // cols, i % cols]) for i in range(panels)]
            self.artists, self.titles = [], []
            references = style.get("references")
            for i, ax in enumerate(axes):
                family.background(ax)
                # no y tick at the bottom corner, where its label would sit on the first x tick's
                ax.yaxis.set_major_locator(
                    mpl.ticker.MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], prune="lower")
                )
                if references is not None:
                    shown = family.artists(ax, len(references), style.get("reference_colors"))
                    family.update(shown, references)
                    for artist in shown:
                        artist.set(linestyle="--", alpha=0.95, lw=1.6 if card else 1.0, zorder=3)  # over the samples
                self.artists.append(family.artists(ax, n, style.get("colors")))
                ax.tick_params(labelsize=CARD["font.size"], length=3, pad=2)
                if i + cols >= panels:
                    ax.set_xlabel(family.axis_labels()[0], labelpad=1)
                else:
                    ax.tick_params(labelbottom=False)
                if i % cols == 0:
                    ax.set_ylabel(family.axis_labels()[1], labelpad=1)
                else:
                    ax.tick_params(labelleft=False)
                if not card:
                    title = ax.text(0.5, 1.02, "", transform=ax.transAxes, ha="center", va="bottom", linespacing=1.1)
                    self.titles.append(title)
            if card:
                title = self.fig.text(0.5, 1 - 0.06 / height, "", ha="center", va="top", linespacing=1.15)
                self.titles.append(title)
            for text in self.titles:
                text.set_fontsize(CARD["axes.titlesize"])
            self.header = None
            if not card:
                self.header = self.fig.text(0.5, 1 - 0.06 / height, "", ha="center", va="top", linespacing=1.15)
                self.header.set_fontsize(CARD["figure.titlesize"])
            if "colorbar" in style:
                label, low, high = style["colorbar"]
                box = axes[0].get_position() if card else grid[:, -1].get_position(self.fig)
                holder = self.fig.add_axes([box.x1 + 0.15 / width, box.y0, 0.16 / width, box.y1 - box.y0])
                colorbar = self.fig.colorbar(
                    mpl.cm.ScalarMappable(mpl.colors.Normalize(low, high), "viridis"), cax=holder
                )
                colorbar.set_label(label, labelpad=2)
                colorbar.ax.tick_params(labelsize=CARD["font.size"])
            if card and style.get("legend"):
                handles = family.legend_handles(style["legend"], "tab:blue" if "colors" not in style else "0.3")
                if references is not None:
                    handles += family.legend_handles("true", "0.3")
                    handles[-1].set_linestyle("--")
                where = {"loc": "upper center", "ncols": 2}
                if axes[0].get_aspect() == 1.0:  # a square panel (points): the legend beside it, on the right
                    axes[0].set_anchor("W")
                    where = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "ncols": 1}
                axes[0].legend(
                    handles=handles, frameon=False, handlelength=1.2, borderaxespad=0.2, columnspacing=1.0, **where
                )
            self._background = None  # the figure without samples and text, drawn once
            fit_margins(self.fig, grid)

    def moving(self) -> list:
        artists = [a for panel in self.artists for a in panel] + self.titles
        return artists + ([self.header] if self.header is not None else [])

    def render(
        self, samples: torch.Tensor, titles: list[str], header: str = "", marked: list[bool] | None = None
    ) -> np.ndarray:
        """The figure with samples [panels, n, dim] and one title per panel (a card: the title), as RGB; a panel
        `marked` has its title in red."""
        canvas = self.fig.canvas
        moving = self.moving()
        if self._background is None:
            for artist in moving:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.fig.bbox)
            for artist in moving:
                artist.set_visible(True)
        for artists, panel in zip(self.artists, samples, strict=True):
            self.family.update(artists, panel)
        for i, (text, title) in enumerate(zip(self.titles, titles, strict=True)):
            text.set_text(title)
            text.set_color("tab:red" if marked and marked[i] else "black")
        if self.header is not None:
            self.header.set_text(header)
        canvas.restore_region(self._background)
        for artist in moving:
            (artist.axes or self.fig).draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def fit_margins(fig: Figure, grid, pad: float = 3.0) -> None:
    """Move the panels' grid in from the canvas's left, right and bottom edges until every tick label and axis
    label lies inside (by `pad` pixels): the margins a family's tick labels need differ ("−10" is wider than "0")."""
    for _ in range(3):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes]
        x0, x1 = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
        y0 = min(b.y0 for b in boxes)
        width, height = fig.bbox.width, fig.bbox.height
        left = max(0.0, pad - x0) / width
        right = max(0.0, x1 - (width - pad)) / width
        bottom = max(0.0, pad - y0) / height
        if not (left or right or bottom):
            return
        grid.update(left=grid.left + left, right=grid.right - right, bottom=grid.bottom + bottom)
        for ax in fig.axes:
            if ax.get_subplotspec() is not None:
                ax.set_position(ax.get_subplotspec().get_position(fig))
            else:  # a colour bar's axes, placed by hand: moved with the grid's right and bottom edges
                box = ax.get_position()
                ax.set_position([box.x0 - right, box.y0 + bottom, box.width, box.height - bottom])


def samples_figure(samples: torch.Tensor, family: Family, title: str = "", style: dict | None = None) -> Figure:
    """A single panel of samples [n, dim] over the real family (the sampler's picture): a card's figure, its title
    wrapped to the card's width (a family of several parameters has many numbers to show)."""
    title = wrap_card(title)
    plot = SamplePlot(family, len(samples), style=style or {"legend": "generated"}, lines=title.count("\n") + 1)
    plot.render(samples[None], [title])
    return plot.fig


def latent_walk_figure(walks: torch.Tensor, values: torch.Tensor, labels: list[str], family: Family) -> Figure:
    """One panel per latent coordinate: the samples [dims, steps, dim] met while moving along it, coloured from the
    lowest value of that coordinate (`values`, [dims, steps]) to the highest; 830 pixels wide."""
    dims = walks.shape[0]
    cols = min(dims, 4)
    rows = -(-dims // cols)
    with mpl.rc_context(PAGE):
        fig = Figure(figsize=(8.3, 2.1 * rows + 0.7), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        cmap = mpl.colormaps["viridis"]
        axes = list(fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).flat)
        for ax in axes[dims:]:  # a last row that is not full
            ax.remove()
        axes = axes[:dims]
        for d, ax in enumerate(axes):
            family.background(ax)
            colors = [cmap(i / max(1, walks.shape[1] - 1)) for i in range(walks.shape[1])]
            family.update(family.artists(ax, len(walks[d]), colors), walks[d])
            ax.set_title(f"{labels[d]}: {values[d, 0].item():g} to {values[d, -1].item():g}")
        bar = fig.colorbar(mpl.cm.ScalarMappable(mpl.colors.Normalize(0, 1), cmap), ax=axes, shrink=0.85, ticks=[0, 1])
        bar.ax.set_yticklabels(["start", "end"])
        bar.set_label("position along the walk")
        fig.suptitle("Walk: one coordinate moves over its range, the others stay at 0")
    return fig


def split_range(values: torch.Tensor, low: float, high: float) -> tuple[torch.Tensor, int]:
    """(the values within [low, high], how many are not: beyond it, or not finite). Nothing is clamped into the
    edge bins, where a spike of far values would look like a mode."""
    inside = values[values.isfinite() & (values >= low) & (values <= high)]
    return inside, len(values) - len(inside)


def parameter_histogram(values: torch.Tensor, family: Family, title: str = "") -> np.ndarray:
    """The fitted parameter of generated samples against the family's modes (shaded), as RGB for a TensorBoard card:
    a mode with no bar over its band is one the generator misses. Values outside the range shown are counted (in
    the title), not drawn."""
    with mpl.rc_context(CARD):
        fig = Figure(figsize=(5.6, 4.14), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        low, high = family.parameter_ranges()[0]
        span = high - low
        lo, hi = low - 0.1 * span, high + 0.1 * span
        for band_low, band_high in family.parameter_modes() or []:
            ax.axvspan(band_low, band_high, color="0.8", lw=0)
        inside, outside = split_range(values, lo, hi)
        ax.hist(inside.numpy(), bins=120, range=(lo, hi), color="tab:blue")
        ax.set_xlabel(f"fitted {family.parameters[0]} (grey: the modes)")
        ax.set_ylabel("samples")
        ax.set_ylim(bottom=0)  # a count: never below 0, even when every value is outside the range
        ax.tick_params(labelsize=CARD["font.size"])
        note = f"{outside:,} of {len(values):,} outside the range shown" if outside else ""
        ax.set_title(wrap_card(" · ".join(t for t in (title, note) if t), inches=4.6))  # over the axes
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def coverage_map(family: Family, epochs: list[int], step: int, shares: torch.Tensor, n: int, title: str = ""):
    """The mode coverage map, as RGB for a TensorBoard card: modes (rows) × `epochs` measured, each cell shaded
    by the share of the n samples that are high quality at that mode ([epochs, M] `shares`), on a log scale from
    one sample to all. White: no such sample, a mode PacGAN's count misses; the red line on the colour bar is the
    share from which modes_captured counts a mode (n/(5·M) samples); an even spread puts 1/M in every cell."""
    with mpl.rc_context(CARD):
        fig = Figure(figsize=(5.6, 4.38), dpi=DPI, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        image = draw_coverage(ax, shares, epochs, family.mode_labels(), n, CARD["font.size"] - 3)
        ax.set_xlabel(f"epoch (the last: {step:,} G updates)")
        coverage_bar(fig, image, ax, shares.shape[1], n, CARD["font.size"] - 3)
        ax.set_title(wrap_card(title, inches=4.0), fontsize=CARD["axes.titlesize"] - 1)
        fig.canvas.draw()
        return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def draw_coverage(ax, shares, epochs: list[int], labels: list[str], n: int, ticks: float):
    """One coverage map on `ax` (coverage_map): shares [epochs, M] of n samples; returns the image."""
    shares = torch.as_tensor(shares, dtype=torch.float64)
    modes = shares.shape[1]
    image = ax.imshow(
        shares.T.numpy(),
        aspect="auto",
        origin="lower",
        cmap=mpl.colormaps["Greens"].with_extremes(under="white"),
        norm=mpl.colors.LogNorm(vmin=0.5 / n, vmax=1),
        interpolation="nearest",
        extent=(0.5, len(epochs) + 0.5, -0.5, modes - 0.5),
    )
    columns = list(range(1, len(epochs) + 1, -(-len(epochs) // 6)))  # at most 6 labels
    ax.set_xticks(columns, [str(epochs[c - 1]) for c in columns])
    shown = list(range(0, modes, -(-modes // 8)))  # at most 8 labels
    ax.set_yticks(shown, [labels[k] for k in shown])
    ax.tick_params(labelsize=ticks)
    return image


def coverage_bar(fig, image, ax, modes: int, n: int, ticks: float) -> None:
    """The coverage map's colour bar: one sample, an even share (1/M), all; the red line at modes_captured's
    threshold, n/(5·M) samples."""
    bar = fig.colorbar(image, ax=ax, ticks=[1 / n, 1 / modes, 1])
    bar.ax.set_yticklabels(["1 sample", f"1/{modes}", "all"])
    bar.ax.minorticks_off()
    bar.ax.axhline(1 / (5 * modes), color="tab:red", lw=2.5)
    bar.ax.tick_params(labelsize=ticks)
