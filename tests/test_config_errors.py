import subprocess
import sys

import pytest
from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from conftest import TINY, compose_config
from curvegan.config import ConfigError, validate


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "curvegan.train", *args], capture_output=True, text=True, cwd=cwd)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.latent_dim=0", "model.latent_dim=0: must be a whole number ≥ 1"),
        ("data.a_min=2.5", "data.a_min=2.5: must be less than data.a_max (2.0)"),
        ("data.num_points=2", "data.num_points=2: must be a whole number ≥ 3"),
        ("data.batch_size=0", "data.batch_size=0: must be a whole number ≥ 1"),
        ("data.batches_per_epoch=-5", "data.batches_per_epoch=-5: must be a whole number ≥ 1"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0: must be a whole number ≥ 1"),
        ("model.g_lr=0", "model.g_lr=0.0: must be a learning rate > 0"),
        ("model.d_lr=-1e-3", "model.d_lr=-0.001: must be a learning rate > 0"),
        ("model.betas=[0.5]", "model.betas=[0.5]: must be two numbers in [0, 1)"),
        ("model.g_hidden=[32,0]", "model.g_hidden=[32, 0]: must be a list of layer widths, each ≥ 1"),
        ("trainer.accelerator=tpu", "trainer.accelerator=tpu: must be one of cpu, gpu, cuda, mps, auto"),
        ("ckpt_path=/no/such.ckpt", "ckpt_path=/no/such.ckpt: must be an existing checkpoint file"),
        ("objective.name=nope", "objective=nope: must be one of"),
        ("+objective.bogus=1", "objective.bogus=1: not an option of bce"),
    ],
)
def test_impossible_values_are_refused_naming_key_value_and_what_is_allowed(override, message):
    with pytest.raises(ConfigError) as refused:
        validate(compose_config(override, run_dir="/tmp/unused"))
    assert str(refused.value).startswith(message)


def test_gpu_is_refused_where_torch_sees_none():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="trainer.accelerator=gpu: must be cpu here"):
        validate(compose_config("trainer=gpu", run_dir="/tmp/unused"))


@pytest.mark.parametrize(
    "override", ["model.latent_dim=ten", "model.nope=1", "objective=nope", "experiment=nope", "data.batch_size=1.5"]
)
def test_wrong_types_unknown_keys_and_choices_fail_while_composing(override):
    with pytest.raises((HydraException, OmegaConfBaseException)):
        compose_config(override, run_dir="/tmp/unused")


@pytest.mark.parametrize(
    "override, line",
    [
        ("model.latent_dim=0", "curvegan.train: model.latent_dim=0: must be a whole number ≥ 1"),
        ("model.latent_dim=ten", "curvegan.train: Error merging override model.latent_dim=ten: Value 'ten' of type"),
        ("model.nope=1", "curvegan.train: Could not override 'model.nope'."),
        ("objective=nope", "curvegan.train: In 'train': Could not find 'objective/nope'"),
    ],
)
def test_command_line_refuses_in_one_line_without_traceback(tmp_path, override, line):
    result = run_cli(override, f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(line), result.stderr
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_a_bad_job_in_a_sweep_is_reported_and_the_others_still_run(tmp_path):
    result = run_cli("-m", "model.latent_dim=0,2", "logger=none", *TINY, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "curvegan.train: model.latent_dim=0: must be a whole number ≥ 1"
    assert (tmp_path / "1" / "metrics.json").exists() and not (tmp_path / "0" / "metrics.json").exists()
