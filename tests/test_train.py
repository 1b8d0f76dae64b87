import json

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from curvegan.train import train


def test_short_cpu_run_leaves_everything_a_user_looks_for(tiny_config, tmp_path):
    metrics = train(tiny_config())

    assert metrics["steps"] == 40  # 2 epochs × 20 batches, one G update each
    written = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("shape_rmse", "a_w1", "a_std", "steps", "seconds"):
        assert written[key] == pytest.approx(metrics[key])
    assert [h["epoch"] for h in written["history"]] == [1, 2]

    samples = np.load(tmp_path / "samples.npy")
    assert samples.shape == (500, 16) and samples.dtype == np.float32

    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 80  # Lightning counts both optimizers' steps
    assert (tmp_path / "progress.gif").stat().st_size > 0

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0}).Reload()
    assert "curves/generated" in events.Tags()["images"]
    assert len(events.Images("curves/generated")) == 2  # one figure per epoch
    scalars = events.Tags()["scalars"]
    for tag in (
        "train/g_loss",
        "train/d_loss",
        "train/p_real",
        "train/p_fake",
        "quality/shape_rmse",
        "quality/a_w1",
    ):
        assert tag in scalars
    # the x axis is G updates
    assert [e.step for e in events.Scalars("quality/a_w1")] == [20, 40]


def test_csv_logger_and_no_logger_runs(tiny_config, tmp_path):
    train(tiny_config("logger=csv"))
    logged = (tmp_path / "csv" / "metrics.csv").read_text()
    assert "train/g_loss" in logged and "quality/shape_rmse" in logged

    metrics = train(tiny_config("logger=none", "trainer.max_epochs=1"))
    assert metrics["steps"] == 20


def test_same_seed_same_run_other_seed_other_run(tiny_config):
    first = train(tiny_config("trainer.max_epochs=1", "logger=none"))
    again = train(tiny_config("trainer.max_epochs=1", "logger=none"))
    other = train(tiny_config("trainer.max_epochs=1", "logger=none", "seed=1"))
    assert first["shape_rmse"] == again["shape_rmse"] and first["a_w1"] == again["a_w1"]
    assert first["shape_rmse"] != other["shape_rmse"]
