import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from curvegan.sample import SampleError, sample
from curvegan.train import train


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 3-epoch run, shared by the tests below."""
    from conftest import TINY, compose_config

    run_dir = tmp_path_factory.mktemp("run")
    train(compose_config(*TINY, "trainer.max_epochs=3", "logger=none", run_dir=run_dir))
    return run_dir


def sample_cfg(**kw):
    base = {
        "ckpt_path": None,
        "n": 500,
        "out": None,
        "plot": None,
        "mode": "curves",
        "plot_curves": 48,
        "seed": 1234,
    }
    return OmegaConf.create({**base, **kw})


def test_run_leaves_a_progress_gif_with_a_frame_per_epoch(trained_run):
    with Image.open(trained_run / "progress.gif") as gif:
        assert gif.n_frames == 3


def test_sampling_the_checkpoint_reproduces_the_runs_samples(trained_run, tmp_path):
    out = tmp_path / "curves.npy"
    quality = sample(sample_cfg(ckpt_path=str(trained_run / "checkpoints/last.ckpt"), out=str(out)))
    assert np.array_equal(np.load(out), np.load(trained_run / "samples.npy"))
    recorded = json.loads((trained_run / "metrics.json").read_text())
    for key in ("shape_rmse", "a_w1", "a_std"):
        assert quality[key] == pytest.approx(recorded[key], rel=1e-6)


def test_csv_output_and_both_pictures(trained_run, tmp_path):
    ckpt = str(trained_run / "checkpoints/last.ckpt")
    sample(sample_cfg(ckpt_path=ckpt, n=7, out=str(tmp_path / "c.csv"), plot=str(tmp_path / "c.png")))
    assert np.loadtxt(tmp_path / "c.csv", delimiter=",").shape == (7, 16)
    sample(sample_cfg(ckpt_path=ckpt, plot=str(tmp_path / "walk.png"), mode="walk"))
    for png in ("c.png", "walk.png"):
        with Image.open(tmp_path / png) as image:
            assert image.size[0] > 200


def test_a_gpu_style_checkpoint_loads_on_the_cpu(trained_run, tmp_path):
    ckpt = torch.load(trained_run / "checkpoints/last.ckpt", weights_only=True)
    assert all(v.device.type == "cpu" for v in ckpt["state_dict"].values())  # saved as plain tensors
    assert isinstance(ckpt["hyper_parameters"], dict) and isinstance(ckpt["datamodule_hyper_parameters"], dict)


def torn_file(d):
    (d / "torn.ckpt").write_bytes(b"PK\x03\x04 torn off")
    return d / "torn.ckpt"


def foreign_checkpoint(d):
    torch.save({"state_dict": {}}, d / "other.ckpt")
    return d / "other.ckpt"


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing.ckpt", "no such file"),
        (torn_file, "not a readable"),
        (foreign_checkpoint, "not a curvegan"),
    ],
    ids=["missing", "torn", "foreign"],
)
def test_bad_checkpoints_are_refused_by_name(tmp_path, make, expected):
    path = make(tmp_path)
    with pytest.raises(SampleError, match=f"ckpt_path={path}: {expected}"):
        sample(sample_cfg(ckpt_path=str(path)))


@pytest.mark.parametrize("n", [0, -3, "ten"])
def test_bad_n_is_refused(trained_run, n):
    with pytest.raises(SampleError, match="^n="):
        sample(sample_cfg(ckpt_path=str(trained_run / "checkpoints/last.ckpt"), n=n))


def test_command_line_prints_one_line_and_exits_non_zero_on_a_missing_checkpoint(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "curvegan.sample", f"ckpt_path={tmp_path}/nope.ckpt"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"curvegan.sample: ckpt_path={tmp_path}/nope.ckpt: no such file"


def test_command_line_draws_and_prints_quality(trained_run, tmp_path):
    ckpt = trained_run / "checkpoints/last.ckpt"
    result = subprocess.run(
        [sys.executable, "-m", "curvegan.sample", f"ckpt_path={ckpt}", "n=50", f"out={tmp_path}/c.npy"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "shape_rmse" in result.stdout and np.load(tmp_path / "c.npy").shape == (50, 16)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npy"]  # no stray log files or dirs
