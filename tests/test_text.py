"""No text cut off or overlapping: every figure curvegan makes (each family and variant, ensembles of 1, 4 and 16,
the sampler's pictures and the report's) is drawn, and every text's box must lie inside the canvas and no two tick
labels of a figure may overlap. A figure that breaks either shows a person a title cut at the edge or "1−1"."""

from itertools import combinations

import matplotlib.figure
import pytest
from matplotlib.text import Text

from conftest import TINY, compose_config
from curvegan.train import train


@pytest.fixture
def figures(monkeypatch):
    """Every matplotlib figure made while the test runs."""
    made = []
    init = matplotlib.figure.Figure.__init__

    def recording(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(matplotlib.figure.Figure, "__init__", recording)
    return made


def drawn_tick_labels(fig) -> tuple[list, set]:
    """(the tick labels drawn, every tick label): a locator also places ticks beyond the view, never drawn."""
    drawn, every = [], set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            span = (high - low) * 1e-9
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                every |= {tick.label1, tick.label2}
                label = tick.label1
                if low - span <= tick.get_loc() <= high + span and label.get_visible() and label.get_text().strip():
                    drawn.append(label)
    return drawn, every


def problems(fig) -> list[str]:
    """What is cut off or overlapping in `fig`, as drawn: texts outside the canvas, tick labels on each other."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    drawn, every = drawn_tick_labels(fig)
    found = []
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or text.get_figure(root=True) is not fig:
            continue
        if (text in every and text not in drawn) or (text.axes is not None and not text.axes.get_visible()):
            continue
        box = text.get_window_extent(renderer)
        if box.x0 < canvas.x0 - 1 or box.y0 < canvas.y0 - 1 or box.x1 > canvas.x1 + 1 or box.y1 > canvas.y1 + 1:
            where = ", ".join(f"{v:.0f}" for v in (box.x0, box.y0, box.x1, box.y1))
            found.append(f"cut off: {text.get_text()!r} at ({where}) on {canvas.width:.0f} × {canvas.height:.0f}")
    boxes = [(label.get_text(), label.get_window_extent(renderer)) for label in drawn]
    for (a, box_a), (b, box_b) in combinations(boxes, 2):
        if (
            box_a.x0 < box_b.x1 - 0.5
            and box_b.x0 < box_a.x1 - 0.5
            and box_a.y0 < box_b.y1 - 0.5
            and box_b.y0 < box_a.y1 - 0.5
        ):
            found.append(f"tick labels overlap: {a!r} and {b!r}")
    return found


def all_problems(figures: list) -> list[str]:
    return [
        f"figure {i} ({fig.get_size_inches().tolist()}): {p}" for i, fig in enumerate(figures) for p in problems(fig)
    ]


RUNS = {
    "quadratic, 1": [],
    "quadratic, 4": ["ensemble.size=4"],
    "quadratic, 16": ["ensemble.size=16"],
    "cubic, 4": ["data=cubic", "ensemble.size=4"],
    "modes, 4": ["data=modes", "ensemble.size=4"],
    "ring, 1": ["data=ring"],
    "ring, 16": ["data=ring", "ensemble.size=16"],
    "grid, 4": ["data=grid", "ensemble.size=4"],
    "cgan, 4": ["model=cgan", "ensemble.size=4"],
    "infogan, 4": ["model=infogan", "ensemble.size=4"],
}


@pytest.mark.parametrize("overrides", RUNS.values(), ids=RUNS.keys())
def test_no_figure_of_a_run_has_text_cut_off_or_overlapping(overrides, figures, tmp_path):
    train(compose_config(*TINY, "trainer.max_epochs=1", *overrides, run_dir=tmp_path))
    assert len(figures) >= 1 + 2 * ("ensemble.size=4" in overrides)
    assert all_problems(figures) == []


SAMPLED = {"quadratic": [], "ring": ["data=ring"], "cgan": ["model=cgan"], "infogan": ["model=infogan"]}


@pytest.mark.parametrize("overrides", SAMPLED.values(), ids=SAMPLED.keys())
def test_the_samplers_pictures_have_no_text_cut_off_or_overlapping(overrides, figures, tmp_path):
    from curvegan.sample import sample
    from test_sample import sample_cfg

    train(
        compose_config(
            *TINY,
            "trainer.max_epochs=1",
            "logger=none",
            "callbacks.monitor.gif_path=null",
            *overrides,
            run_dir=tmp_path,
        )
    )
    figures.clear()
    ckpt = tmp_path / "checkpoints" / "last.ckpt"
    for mode in ("samples", "walk"):
        sample(sample_cfg(ckpt_path=str(ckpt), plot=str(tmp_path / f"{mode}.png"), mode=mode, n=2000))
    assert len(figures) == 2 and all_problems(figures) == []


@pytest.mark.parametrize("data", ["quadratic", "ring"])
def test_the_reports_figures_have_no_text_cut_off_or_overlapping(data, figures, tmp_path, capsys):
    from curvegan.report import main as report

    for number, overrides in enumerate([["model.g_lr=1e-4"], ["model.g_lr=2e-4", "objective=hinge"]]):
        overrides = [*overrides, f"data={data}"]
        run_dir = tmp_path / "sweep" / str(number)
        train(
            compose_config(
                *TINY, "ensemble.size=4", "logger=none", "callbacks.monitor.gif_path=null", *overrides, run_dir=run_dir
            )
        )
        (run_dir / ".hydra").mkdir()
        (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    figures.clear()
    report([str(tmp_path / "sweep"), "--out", str(tmp_path / "report")])
    assert len(figures) == 2 + (data == "ring") and all_problems(figures) == []  # ring: the coverage maps too
    assert (tmp_path / "report" / "report_coverage.png").exists() == (data == "ring")


def test_the_samplers_picture_of_a_requested_a_draws_its_true_curve_over_the_samples(figures, tmp_path):
    import torch

    from curvegan.families.quadratic import Quadratic
    from curvegan.sample import sample
    from test_sample import sample_cfg

    train(compose_config(*TINY, "trainer.max_epochs=1", "logger=none", "model=cgan", run_dir=tmp_path))
    figures.clear()
    sample(sample_cfg(ckpt_path=str(tmp_path / "checkpoints" / "last.ckpt"), plot=str(tmp_path / "a.png"), a=1.3))
    (fig,) = figures
    from matplotlib.collections import LineCollection

    curves = [c for c in fig.axes[0].collections if isinstance(c, LineCollection) and len(c.get_segments())]
    (true,) = [c for c in curves if c.get_zorder() > 2]  # over the generated curves, which would hide it
    (segment,) = true.get_segments()
    assert torch.allclose(torch.as_tensor(segment[:, 1]).float(), Quadratic().samples(torch.tensor([1.3]))[0])
    assert "a=1.3" in fig.texts[0].get_text() and all_problems(figures) == []
