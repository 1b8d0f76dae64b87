"""Sweeps beyond one process, through Hydra's plugins (the [sweep] extra), and the report over a sweep."""

import csv
import subprocess
import sys

import pytest
import yaml

from conftest import TINY

pytest.importorskip("hydra_plugins.hydra_joblib_launcher", reason="needs the [sweep] extra")


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "curvegan.train", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):  # its tests are slow: a sweep of two processes
    sweep = tmp_path_factory.mktemp("joblib")
    result = run_cli("-m", "hydra/launcher=joblib", "seed=0,1", "logger=none", *TINY, f"hydra.sweep.dir={sweep}")
    assert result.returncode == 0, result.stderr[-3000:]
    return sweep


@pytest.mark.slow
def test_joblib_runs_the_jobs_in_parallel_processes(joblib_sweep):
    assert sorted(p.parent.name for p in joblib_sweep.glob("*/metrics.json")) == ["0", "1"]
    logs = "".join(p.read_text() for p in joblib_sweep.glob("*/train.log"))
    assert "Joblib" in (joblib_sweep / "multirun.yaml").read_text() or "joblib" in logs.lower()


@pytest.mark.slow
def test_report_tables_every_job_of_a_sweep(joblib_sweep, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "curvegan.report", str(joblib_sweep), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "| job | seed |" in result.stdout and "shape_rmse" in result.stdout
    rows = list(csv.DictReader(open(tmp_path / "report.csv")))
    assert sorted(r["seed"] for r in rows) == ["0", "1"] and all(float(r["a_w1"]) > 0 for r in rows)
    assert (tmp_path / "report.png").stat().st_size > 0


def test_report_refuses_a_dir_without_jobs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "curvegan.report", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode != 0 and "no finished jobs" in result.stderr


@pytest.mark.slow
def test_optuna_search_persists_and_names_the_best(tmp_path):
    result = run_cli("hparams_search=optuna", "hydra.sweeper.n_trials=3", *TINY, "trainer.max_epochs=1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "multirun" / "optuna-curvegan"
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) >= {"model.g_lr", "model.latent_dim", "objective"}
    assert len(list(sweep.glob("*/metrics.json"))) == 3

    import optuna

    study = optuna.load_study(study_name="curvegan", storage=f"sqlite:///{sweep}/optuna.db")
    assert len(study.trials) == 3
    again = run_cli("hparams_search=optuna", "hydra.sweeper.n_trials=1", *TINY, "trainer.max_epochs=1", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert len(optuna.load_study(study_name="curvegan", storage=f"sqlite:///{sweep}/optuna.db").trials) == 4
    assert len(list(sweep.glob("*/metrics.json"))) == 4  # the resumed study did not overwrite earlier trials


@pytest.mark.slow
def test_submitit_local_runs_a_job(tmp_path):
    result = run_cli("-m", "hydra/launcher=submitit_local", "logger=none", *TINY, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "0" / "metrics.json").exists()
    assert (tmp_path / ".submitit").is_dir()


def test_slurm_launcher_config_composes():
    from hydra import compose, initialize_config_dir

    from conftest import CONFIGS

    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(
            "train", overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu"], return_hydra_config=True
        )
    launcher = cfg.hydra.launcher
    assert launcher.partition == "gpu" and launcher.array_parallelism == 16
    assert launcher._target_.endswith("SlurmLauncher")


@pytest.mark.slow
def test_ddp_in_a_sweep_is_refused_instead_of_relaunching_it(tmp_path):
    result = run_cli("-m", "trainer=ddp", "seed=0", "logger=none", *TINY, f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 2
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("curvegan.train: trainer.strategy=ddp") and ": not in a sweep (-m)" in last_line
    assert not list(tmp_path.glob("*/metrics.json"))
