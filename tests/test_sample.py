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


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    """A 2-epoch run of 5 GANs at once."""
    from conftest import TINY, compose_config

    run_dir = tmp_path_factory.mktemp("ensemble")
    train(compose_config(*TINY, "ensemble.size=5", "logger=none", run_dir=run_dir))
    return run_dir


def sample_cfg(**kw):
    base = {
        "ckpt_path": None,
        "member": 0,
        "n": 500,
        "out": None,
        "plot": None,
        "mode": "samples",
        "plot_samples": None,
        "seed": 1234,
        "a": None,
        "params": None,
        "code": None,
    }
    return OmegaConf.create({**base, **kw})


def test_run_leaves_a_progress_gif_with_a_frame_per_epoch(trained_run):
    with Image.open(trained_run / "progress.gif") as gif:
        assert gif.n_frames == 3


def test_sampling_the_checkpoint_reproduces_the_runs_samples(trained_run, tmp_path):
    out = tmp_path / "curves.npy"
    quality = sample(sample_cfg(ckpt_path=str(trained_run / "checkpoints/last.ckpt"), out=str(out)))
    assert np.array_equal(np.load(out), np.load(trained_run / "samples.npy")[0])  # the run's one member
    recorded = json.loads((trained_run / "metrics.json").read_text())
    for key in ("shape_rmse", "a_w1", "a_std"):
        assert quality[key] == pytest.approx(recorded[key], rel=1e-6)


def test_member_k_of_an_ensemble_draws_its_own_rows_of_samples_npy(ensemble_run, tmp_path):
    samples = np.load(ensemble_run / "samples.npy")
    assert samples.shape == (5, 500, 16)
    recorded = json.loads((ensemble_run / "metrics.json").read_text())["members"]
    for member in (0, 3):
        out = tmp_path / f"member{member}.npy"
        quality = sample(sample_cfg(ckpt_path=str(ensemble_run / "checkpoints/last.ckpt"), member=member, out=str(out)))
        assert np.array_equal(np.load(out), samples[member])
        assert quality["a_w1"] == pytest.approx(recorded[member]["a_w1"], rel=1e-6)
    assert not np.array_equal(samples[0], samples[3])


def test_a_member_of_an_ensemble_with_settings_of_its_own_draws_its_rows_of_samples_npy(tmp_path):
    """Each member its own seed, learning rate, EMA and R1 weight (a list per key): the sampler builds the member
    with its own values (it refused every such checkpoint as naming what curvegan does not build)."""
    from conftest import TINY, compose_config

    own = ["ensemble.size=3", "seed=[3,5,7]", "model.g_lr=[1e-4,2e-4,4e-4]", "model.g_ema=[0.9,0.99,0.999]"]
    run_dir = tmp_path / "run"
    train(compose_config(*TINY, *own, "objective.r1=[0,0.1,1]", "logger=none", run_dir=run_dir))
    samples = np.load(run_dir / "samples.npy")
    for member in range(3):
        out = tmp_path / f"member{member}.npy"
        sample(sample_cfg(ckpt_path=str(run_dir / "checkpoints/last.ckpt"), member=member, out=str(out)))
        assert np.array_equal(np.load(out), samples[member]), member


@pytest.mark.parametrize("member", [5, -1])
def test_a_member_out_of_range_is_refused(ensemble_run, member):
    with pytest.raises(SampleError, match=f"member={member}: must be"):
        sample(sample_cfg(ckpt_path=str(ensemble_run / "checkpoints/last.ckpt"), member=member))


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
    hparams = ckpt["hyper_parameters"]
    assert isinstance(hparams, dict) and isinstance(hparams["family"], dict) and isinstance(hparams["variant"], dict)


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


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("n", 0, "n=0: must be a whole number ≥ 1"),
        ("n", "ten", "n=ten: must be a whole number ≥ 1"),
        ("n", 10**12, "n=1000000000000: needs about"),
        ("seed", -1, "seed=-1: must be a whole number in"),
        ("plot_samples", 0, "plot_samples=0: must be null or a whole number ≥ 1"),
        ("member", 1.5, "member=1.5: must be a whole number ≥ 0"),
        ("mode", "spiral", "mode=spiral: must be one of samples, walk"),
        ("out", "curves.txt", "out=curves.txt: must end in .npy or .csv"),
        ("out", "/etc/passwd/c.npy", "out=/etc/passwd/c.npy: cannot be written"),
        ("plot", "curves.jpg", "plot=curves.jpg: must end in .png"),
        ("a", 1.5, "a=1.5: this checkpoint holds a plain GAN (model=mlp), which takes no option"),
        ("code", 0.5, "code=0.5: this checkpoint holds a plain GAN (model=mlp), which takes no option"),
        ("a", "big", "a=big: must be null or a finite number"),
        ("bogus", 1, "bogus=1: not a key of the sampler"),
    ],
)
def test_every_bad_value_is_refused_naming_its_key_and_nothing_is_written(trained_run, tmp_path, key, value, message):
    cfg = sample_cfg(ckpt_path=str(trained_run / "checkpoints/last.ckpt"), out=str(tmp_path / "c.npy"))
    cfg[key] = value
    with pytest.raises(SampleError) as refused:
        sample(cfg)
    assert str(refused.value).startswith(message)
    assert not any(tmp_path.iterdir())


def test_command_line_prints_one_line_and_exits_non_zero_on_a_missing_checkpoint(tmp_path, monkeypatch, capsys):
    from curvegan.sample import cli

    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")  # cli() sets it for its process; this one goes on
    monkeypatch.setattr(sys, "argv", ["curvegan.sample", f"ckpt_path={tmp_path}/nope.ckpt"])
    with pytest.raises(SystemExit) as exited:
        cli()
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == f"curvegan.sample: ckpt_path={tmp_path}/nope.ckpt: no such file"


def test_command_line_draws_and_prints_quality_and_its_defaults_reproduce_samples_npy(trained_run, tmp_path):
    """With the command line's own defaults (seed, member) and the run's sample count, the run's samples.npy."""
    ckpt = trained_run / "checkpoints/last.ckpt"
    recorded = np.load(trained_run / "samples.npy")
    n = recorded.shape[1]
    result = subprocess.run(
        [sys.executable, "-m", "curvegan.sample", f"ckpt_path={ckpt}", f"n={n}", f"out={tmp_path}/c.npy"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "shape_rmse" in result.stdout and np.array_equal(np.load(tmp_path / "c.npy"), recorded[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.npy"]  # no stray log files or dirs


def test_the_samplers_memory_check_counts_the_checkpoints_own_network(tmp_path, monkeypatch):
    """A wide generator needs more memory per sample: the same n that a 32-wide one draws is refused for a
    4000-wide one, naming n and the width, before anything is written."""
    from conftest import TINY, compose_config
    from curvegan import preflight

    monkeypatch.setattr(preflight, "available_memory", lambda: 8 * 2**30)
    runs = {}
    for width in (32, 4000):
        runs[width] = tmp_path / f"w{width}"
        hidden = f"model.generator.hidden=[{width}]"
        train(compose_config(*TINY, "trainer.max_epochs=1", "logger=none", hidden, run_dir=runs[width]))
    out = tmp_path / "wide.npy"
    with pytest.raises(SampleError, match=r"^n=1000000: needs about \S+ GB of memory with this checkpoint's generator"):
        sample(sample_cfg(ckpt_path=str(runs[4000] / "checkpoints/last.ckpt"), n=1_000_000, out=str(out)))
    assert not out.exists()
    from curvegan.sample import check_memory, load_checkpoint

    check_memory(1_000_000, load_checkpoint(runs[32] / "checkpoints/last.ckpt"))  # the narrow one fits
