"""Sweeps on a real SLURM cluster (tests/slurm/start.sh makes a one-node one; `make test-slurm` runs these):
both points of a sweep run as SLURM jobs, and a job that SLURM requeues while it trains (as a preemption does)
stops with its checkpoint, starts again, resumes (ckpt_path=auto) and ends with the uninterrupted run's results."""

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif("SLURM_CONF" not in os.environ, reason="needs a SLURM cluster: make test-slurm"),
]
QUIET = ["logger=none", "callbacks.monitor.gif_path=null", "evaluation.num_samples=500"]
SMALL_JOBS = ["hydra/launcher=slurm", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1"]


def sweep(*overrides: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "curvegan.train", "-m", *SMALL_JOBS, *QUIET, *overrides]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def numbers(path) -> dict:
    metrics = json.loads(path.read_text())
    metrics.pop("seconds")
    return metrics


def test_a_sweep_runs_each_point_as_a_slurm_job(tmp_path):
    process = sweep("seed=0,1", "trainer.max_epochs=1", "data.batches_per_epoch=20", f"hydra.sweep.dir={tmp_path}")
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == ["0", "1"]
    submitted = {p.name.split("_")[0] for p in (tmp_path / ".submitit").iterdir() if p.is_dir()}
    assert submitted  # through sbatch: submitit keeps each job's files under its SLURM job id


def test_a_job_requeued_while_it_trains_resumes_and_ends_as_the_uninterrupted_run(tmp_path):
    run = ["seed=3", "trainer.max_epochs=6", "ensemble.size=8"]
    process = sweep(*run, "ckpt_path=auto", f"hydra.sweep.dir={tmp_path / 'sweep'}")
    first = tmp_path / "sweep" / "0" / "checkpoints" / "epoch000.ckpt"
    deadline = time.monotonic() + 300
    while not first.exists():
        assert process.poll() is None and time.monotonic() < deadline, "the job never wrote its first checkpoint"
        time.sleep(0.5)
    job = subprocess.check_output(["squeue", "-h", "-o", "%i"], text=True).split()[0]
    subprocess.run(["scontrol", "requeue", job], check=True)  # what a preemption with PreemptMode=REQUEUE does
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-3000:]
    logs = "".join(p.read_text() for p in (tmp_path / "sweep" / ".submitit").rglob("*.err"))
    assert "curvegan: stopped by SIGTERM after G update" in logs and "ckpt_path=last" in logs  # it was stopped

    subprocess.run(
        [sys.executable, "-m", "curvegan.train", *run, *QUIET, f"hydra.run.dir={tmp_path / 'whole'}"], check=True
    )
    assert numbers(tmp_path / "sweep" / "0" / "metrics.json") == numbers(tmp_path / "whole" / "metrics.json")


def test_a_packed_sweep_runs_each_group_as_one_slurm_job(tmp_path):
    command = [sys.executable, "-m", "curvegan.train", "-m", "hydra/launcher=packed_slurm"]
    command += ["hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=1", *QUIET, "trainer.max_epochs=1"]
    command += ["data.batches_per_epoch=20", "seed=0,1", "model.g_lr=1e-4,2e-4", f"hydra.sweep.dir={tmp_path}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == ["0", "1", "2", "3"]
    submitted = [p for p in (tmp_path / ".submitit").iterdir() if p.is_dir()]
    assert len(submitted) == 1  # the four jobs differ only in member-wise keys: one group, one SLURM job
    for job in range(4):
        assert (tmp_path / str(job) / ".hydra" / "overrides.yaml").is_file()
        assert (tmp_path / str(job) / "checkpoints" / "last.ckpt").is_file()


@pytest.mark.parametrize("launcher", ["slurm", "packed_slurm"])
def test_a_submission_slurm_refuses_ends_in_one_line_naming_the_launcher_and_sbatchs_reason(tmp_path, launcher):
    """What only the cluster knows (here a partition it lacks) comes back from sbatch: no traceback, status 2, and
    a last line that says which launcher SLURM refused and why (submitit's launcher prints sbatch's lines first)."""
    command = [sys.executable, "-m", "curvegan.train", "-m", f"hydra/launcher={launcher}", "seed=0,1", *QUIET]
    command += ["hydra.launcher.partition=nosuch", f"hydra.sweep.dir={tmp_path}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"curvegan.train: hydra/launcher={launcher}: SLURM refused the ") and "partition" in last
    if launcher == "packed_slurm":
        assert len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*/metrics.json"))
