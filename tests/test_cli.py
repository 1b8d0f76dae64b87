import json
import subprocess
import sys

import pytest

from conftest import TINY


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "curvegan.train", *args], capture_output=True, text=True, **kw)


def test_multirun_sweep_runs_each_job_into_its_own_dir(tmp_path):
    result = run_cli("-m", "seed=0,1", "model.latent_dim=2", "logger=none", *TINY, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    runs = sorted(p.parent for p in tmp_path.glob("*/metrics.json"))
    assert len(runs) == 2
    overrides = {tuple(p.joinpath(".hydra/overrides.yaml").read_text().split()) for p in runs}
    assert len(overrides) == 2
    assert all(json.loads((p / "metrics.json").read_text())["steps"] == 40 for p in runs)


@pytest.mark.slow
def test_help_lists_the_config_groups():
    result = run_cli("--help")
    assert result.returncode == 0
    for group in ("data:", "model:", "trainer:", "logger:", "objective:"):
        assert group in result.stdout


@pytest.mark.slow
def test_ddp_trains_one_run_on_two_processes(tmp_path):
    result = run_cli("trainer=ddp", "trainer.devices=2", "logger=none", *TINY, f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "metrics.json").read_text())["steps"] == 40
    assert (tmp_path / "train_ddp_process_1.log").exists()  # the second process ran
