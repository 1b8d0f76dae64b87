"""What a person sees: figures that count what they cannot show, no undefined value drawn as a number, and the
last line of a run that names its own metrics."""

import math

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import TINY, compose_config
from curvegan.families.modes import Modes
from curvegan.plots import parameter_histogram, split_range
from curvegan.train import summary_line, train


def test_a_fitted_a_outside_the_histograms_range_is_counted_not_clamped():
    values = torch.tensor([1.0, 1.5, 2.0, 100.0, -50.0, 1e9, float("inf"), float("nan")])
    inside, outside = split_range(values, 0.9, 2.1)
    assert inside.tolist() == [1.0, 1.5, 2.0] and outside == 5  # the far ones are not piled into the edge bins
    image = parameter_histogram(values, Modes(), "a* of member 0")  # and the figure is drawn all the same
    assert image.shape[2] == 3 and image.shape[1] == 560


def test_no_undefined_value_reaches_a_logger_and_scalars_histograms_and_figures_have_their_own_sections(tmp_path):
    """Early in the mode test bed no curve is high quality: mode_kl is undefined (null in metrics.json), and
    TensorBoard gets no number for it rather than a NaN that would be drawn at the bottom of its axis."""
    metrics = train(compose_config(*TINY, "data=modes", "ensemble.size=2", run_dir=tmp_path))
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    tags = events.Tags()
    values = [e.value for tag in tags["scalars"] for e in events.Scalars(tag)]
    assert values and all(math.isfinite(v) for v in values)
    if math.isnan(metrics["mode_kl"]):
        assert "1_quality/mode_kl" not in tags["scalars"]
    assert all(t.startswith("histograms/") for t in tags["histograms"])
    assert all(t.startswith("figures/") for t in tags["images"])
    assert not any(t.startswith(("histograms/", "figures/")) for t in tags["scalars"])


def declared(*names):
    from curvegan.metrics import declarations
    from curvegan.registry import known_metrics as known

    known()
    return declarations(names)


def test_the_last_line_names_the_familys_and_the_variants_own_metrics():
    cgan = {"shape_rmse": 0.05, "a_w1": 0.01, "a_std": 0.28, "objective": 0.06, "a_rmse": 0.02}
    line = summary_line({**cgan, "declarations": declared(*cgan), "ensemble_size": 1, "steps": 6000}, 5.0)
    assert line == "curvegan: 6000 G updates in 5.0 s · shape_rmse 0.0500 · a_w1 0.0100 · a_std 0.2800 · a_rmse 0.0200"
    modes = {"shape_rmse": 0.05, "a_w1": 0.01, "hq_fraction": 0.96, "modes_captured": 8.0, "mode_kl": 0.0012}
    worst = {"shape_rmse": 0.09, "a_w1": 0.02, "hq_fraction": 0.9, "modes_captured": 7.0, "mode_kl": 0.01}
    run = {**modes, "declarations": declared(*modes), "ensemble_size": 32, "steps": 6000, "worst": worst, "diverged": 0}
    line = summary_line(run, 9.0)
    assert "hq_fraction 0.9600 (worst 0.9000) · modes_captured 8 (worst 7) · mode_kl 0.0012 (worst 0.0100)" in line
    info = {"shape_rmse": 0.05, "a_w1": 0.01, "code_corr": 0.998}
    assert "code_corr 0.9980" in summary_line(
        {**info, "declarations": declared(*info), "ensemble_size": 1, "steps": 1}, 1
    )


def test_without_tensorboards_private_file_writer_images_still_reach_tensorboard(tmp_path, monkeypatch):
    """curvegan writes its own PNG through SummaryWriter's private _get_file_writer; a TensorBoard without it gets
    the image through the public add_image."""
    import numpy as np
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from curvegan import images
    from curvegan.images import log_image

    monkeypatch.setattr(images, "PRIVATE_WRITER", "_no_such_call")  # as if TensorBoard had none
    logger = TensorBoardLogger(str(tmp_path), name="tb", version="")

    log_image([logger], "figures/generated", np.zeros((20, 30, 3), dtype=np.uint8), 7)
    logger.experiment.flush()
    events = EventAccumulator(str(tmp_path / "tb"), size_guidance={"images": 0}).Reload()
    (image,) = events.Images("figures/generated")
    assert (image.step, image.width, image.height) == (7, 30, 20)


def test_an_ensemble_draws_each_metrics_spread_as_one_custom_scalars_chart(tmp_path):
    """TensorBoard's CUSTOM SCALARS tab: per shown metric a margin chart of the median member with the members'
    interquartile band, and the worst member; every tag it names is logged, the band holds the median."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.custom_scalar import layout_pb2, metadata

    from conftest import TINY, compose_config
    from curvegan.train import train

    train(compose_config(*TINY, "ensemble.size=6", "data=ring", run_dir=tmp_path))
    (events,) = (tmp_path / "tensorboard").glob("events.*")
    layouts = [
        layout_pb2.Layout.FromString(value.tensor.string_val[0])
        for event in EventFileLoader(str(events)).Load()
        for value in event.summary.value
        if value.tag == metadata.CONFIG_SUMMARY_TAG
    ]
    assert len(layouts) == 1
    (category,) = layouts[0].category
    charts = {chart.title.split(":")[0]: chart for chart in category.chart}
    assert set(charts) == {"pacgan_modes", "hq_fraction", "mode_kl"}
    assert "a count" in charts["pacgan_modes"].title and "a count" not in charts["hq_fraction"].title
    scalars = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    logged = set(scalars.Tags()["scalars"])
    band, worst = charts["hq_fraction"].margin.series
    assert {band.value, band.lower, band.upper, worst.value} <= logged
    for median, low, high in zip(*(scalars.Scalars(t) for t in (band.value, band.lower, band.upper)), strict=True):
        assert low.value <= median.value <= high.value
