"""A sweep as one ensemble (curvegan.packed, `hydra/launcher=packed`): each job's members make the updates the
job alone makes, and each job's dir holds what the job alone would leave."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from conftest import CONFIGS, TINY, compose_config
from curvegan.schemas import register_schemas

# 300 G updates, as the equivalence asks; a small evaluation so the test stays quick
UPDATES = ["data.batches_per_epoch=150", "trainer.max_epochs=2", "evaluation.num_samples=400", "logger=none"]
QUIET = ["callbacks.monitor.gif_path=null", "callbacks.progress_bar.refresh_rate=0"]

# Three jobs that differ in every member-wise key at once (and in the seed and the ensemble's size).
EVERY_KEY = [
    ["seed=3", "ensemble.size=1", "model.g_lr=1e-4", "model.d_lr=3e-4", "model.betas=[0.5,0.999]"],
    ["seed=5", "ensemble.size=2", "model.g_lr=4e-4", "model.d_lr=1e-4", "model.betas=[0.9,0.99]"],
    ["seed=3", "ensemble.size=1", "model.g_lr=2e-4", "model.d_lr=2e-4", "model.betas=[0.0,0.9]"],
]
WITH = {
    "bce, EMA, clipping, lr decay, R1": (
        ["model.lr_decay=true"],
        [
            ["model.g_ema=0.99", "model.grad_clip=1.0", "objective.r1=0.1"],
            ["model.g_ema=0.9", "model.grad_clip=0.5", "objective.r1=1.0"],
            ["model.g_ema=0.999", "model.grad_clip=2.0", "objective.r1=0.0"],
        ],
    ),
    "wgan_gp": (
        ["objective=wgan_gp", "model.d_steps=2"],
        [["objective.gp_weight=10"], ["objective.gp_weight=1"], ["objective.gp_weight=5"]],
    ),
    "cgan": (["model=cgan"], [[], [], []]),
    "infogan": (["model=infogan"], [[], [], []]),
}


def sweep_config(overrides: list[str], sweep: Path, num: int):
    """A job's config as Hydra's launchers receive it (with `hydra`), numbered `num` in `sweep`."""
    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.sweep.dir, cfg.hydra.sweep.subdir = str(sweep), str(num)
        cfg.hydra.job.num = cfg.hydra.job.id = num
    return cfg


def packed_and_alone(tmp_path: Path, shared: list[str], per_job: list[list[str]]):
    """Train the jobs packed (in process, as the launcher does) and each alone: [(packed dir, alone dir)]."""
    from curvegan import packed
    from curvegan.train import train

    overrides = [[*UPDATES, *QUIET, *shared, *EVERY_KEY[k], *per_job[k]] for k in range(len(per_job))]
    jobs = [packed.job_of(k, sweep_config(o, tmp_path / "packed", k), o) for k, o in enumerate(overrides)]
    (group,) = packed.groups_of(jobs, 4096)
    assert len(group) == len(jobs)  # they differ only in member-wise keys: one ensemble
    packed.train_group(group, tmp_path / "packed" / ".packed" / "group")
    dirs = []
    for k, o in enumerate(overrides):
        train(compose_config(*o, run_dir=tmp_path / "alone" / str(k)))
        dirs.append((tmp_path / "packed" / str(k), tmp_path / "alone" / str(k)))
    return dirs


def largest_difference(a: dict, b: dict) -> float:
    return max((a[k].double() - b[k].double()).abs().max().item() for k in b if k.startswith(("generator", "discr")))


@pytest.mark.parametrize("case", ["bce, EMA, clipping, lr decay, R1"])
def test_each_packed_job_makes_the_updates_it_makes_alone(tmp_path, case):
    _check_equivalence(tmp_path, *WITH[case])


@pytest.mark.slow
@pytest.mark.parametrize("case", ["wgan_gp", "cgan", "infogan"])
def test_each_packed_job_makes_the_updates_it_makes_alone_every_objective_and_variant(tmp_path, case, monkeypatch):
    """Over 64 updates: these settings are chaotic enough that a lone run whose weights are moved by one float32
    ulp ends 300 updates 1e-4 to 1e-3 away from the unmoved one (measured), as far as the packed job ends from the
    lone one; over 64 updates both stay below 1e-7."""
    monkeypatch.setattr(sys.modules[__name__], "UPDATES", ["data.batches_per_epoch=32", *UPDATES[1:]])
    _check_equivalence(tmp_path, *WITH[case], updates=64)


def _check_equivalence(tmp_path, shared, per_job, updates=300):
    for packed_dir, alone_dir in packed_and_alone(tmp_path, shared, per_job):
        mine = torch.load(packed_dir / "checkpoints" / "last.ckpt", weights_only=True)
        alone = torch.load(alone_dir / "checkpoints" / "last.ckpt", weights_only=True)
        # float32 sums in another order (a loss or a norm over a batch of other members): ≤ 1e-5
        assert mine["global_step"] == alone["global_step"] == updates * (1 + alone["hyper_parameters"]["d_steps"])
        assert largest_difference(mine["state_dict"], alone["state_dict"]) <= 1e-5
        assert mine["hyper_parameters"] == alone["hyper_parameters"]
        assert set(mine["callbacks"]) == set(alone["callbacks"])
        m, a = (json.loads((d / "metrics.json").read_text()) for d in (packed_dir, alone_dir))
        for name in m["declarations"]:  # metrics of samples equal to ~1e-6: the same to 1e-4 relative
            assert m[name] == pytest.approx(a[name], rel=1e-4, abs=1e-5), name
        assert len(m["history"]) == len(a["history"]) and m["ensemble_size"] == a["ensemble_size"]
        assert np.abs(np.load(packed_dir / "samples.npy") - np.load(alone_dir / "samples.npy")).max() <= 1e-4


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "curvegan.train", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.fixture(scope="module")
def mixed_sweeps(tmp_path_factory):
    """The README's mixed sweep, packed and on the basic launcher: 2 learning rates × 2 objectives × 2 seeds."""
    out = tmp_path_factory.mktemp("mixed")
    sweep = ["-m", "model.g_lr=1e-4,2e-4", "objective=bce,hinge", "seed=0,1", "logger=none", *TINY, *QUIET]
    packed = run_cli(*sweep, "hydra/launcher=packed", f"hydra.sweep.dir={out / 'packed'}")
    basic = run_cli(*sweep, f"hydra.sweep.dir={out / 'basic'}")
    assert packed.returncode == 0 and basic.returncode == 0, packed.stderr[-2000:] + basic.stderr[-2000:]
    return out, packed


def test_a_mixed_sweep_trains_one_ensemble_per_setting_of_the_unpackable_keys(mixed_sweeps):
    out, packed = mixed_sweeps
    assert (packed.stdout + packed.stderr).count("as one ensemble of 4 GANs") == 2  # bce's 4 jobs, then hinge's
    assert len(list((out / "packed" / ".packed").iterdir())) == 2
    for job in range(8):
        run = out / "packed" / str(job)
        assert (run / ".hydra" / "overrides.yaml").is_file() and (run / "train.log").is_file()
        assert np.load(run / "samples.npy").shape == (1, 500, 16)
        metrics = json.loads((run / "metrics.json").read_text())
        assert metrics["ensemble_size"] == 1 and len(metrics["history"]) == 2
        assert "shape_rmse" in (run / "train.log").read_text()


def test_the_report_on_a_packed_sweep_is_the_basic_launchers(mixed_sweeps, tmp_path):
    out, _ = mixed_sweeps
    tables = []
    for name in ("packed", "basic"):
        result = subprocess.run(
            [sys.executable, "-m", "curvegan.report", str(out / name), "--out", str(tmp_path / name)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        tables.append(without_seconds(result.stdout.replace(str(out / name), "SWEEP")))
    # the same settings, numbers and verdicts, to the digits the table prints (float32 sums in another order);
    # only the wall time differs
    assert tables[0] == tables[1]


def without_seconds(report: str) -> str:
    """The report without its `seconds` column (a packed job's is its share of its group's time)."""
    lines, column = [], None
    for line in report.splitlines():
        cells = line.split(" | ")
        if "seconds" in cells[-1]:
            column = len(cells) - 1
        if column is not None and line.startswith("|") and len(cells) == column + 1:
            cells = cells[:column]
        elif not line.startswith("|"):
            column = None
        lines.append(" | ".join(cells))
    assert any("seconds" in line for line in report.splitlines())
    return "\n".join(lines)


@pytest.mark.slow
def test_a_packed_jobs_checkpoint_is_a_checkpoint_of_the_job_alone(mixed_sweeps, tmp_path):
    out, _ = mixed_sweeps
    run = out / "packed" / "3"
    sampled = subprocess.run(
        [
            sys.executable,
            "-m",
            "curvegan.sample",
            f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
            "n=5",
            f"out={tmp_path / 'drawn.npy'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sampled.returncode == 0, sampled.stderr
    assert np.load(tmp_path / "drawn.npy").shape[-1] == 16
    overrides = (run / ".hydra" / "overrides.yaml").read_text()
    args = [line[2:] for line in overrides.splitlines() if line.startswith("- ")]
    args = [a.strip("'") for a in args if not a.startswith("trainer.max_epochs")]
    resumed = run_cli(*args, "trainer.max_epochs=3", f"hydra.run.dir={run}", "ckpt_path=last")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 60 and [h["epoch"] for h in metrics["history"]] == [1, 2, 3]


def test_a_refused_job_is_one_line_and_the_others_train(tmp_path):
    result = run_cli(
        "-m",
        "hydra/launcher=packed",
        "model.g_lr=1e-4,-1,2e-4",
        "logger=none",
        *TINY,
        *QUIET,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode != 0
    assert "model.g_lr=-1" in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == ["0", "2"]
    assert not (tmp_path / "1").exists()
    assert "as one ensemble of 2 GANs" in result.stdout + result.stderr


def test_max_members_caps_a_group(tmp_path):
    result = run_cli(
        "-m",
        "hydra/launcher=packed",
        "hydra.launcher.max_members=2",
        "seed=0,1,2",
        "logger=none",
        *TINY,
        *QUIET,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (result.stdout + result.stderr).count("as one ensemble of 2 GANs") == 1  # jobs 0 and 1; job 2 alone
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == ["0", "1", "2"]


@pytest.mark.slow
def test_optuna_trains_each_batch_of_trials_as_one_ensemble(tmp_path):
    result = run_cli(
        "hparams_search=optuna_packed",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "ensemble.size=2",
        *TINY,
        *QUIET,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (result.stdout + result.stderr).count("as one ensemble of 4 GANs") == 2  # 2 batches of 2 trials × 2 seeds
    assert len(list(tmp_path.glob("*/metrics.json"))) == 4
    assert "best_value" in (tmp_path / "optimization_results.yaml").read_text()


@pytest.mark.slow
def test_a_group_resumes_over_what_its_jobs_dirs_hold_and_never_trains_over_a_run_it_cannot_resume(tmp_path):
    """A stop leaves each job's dir holding its TensorBoard events (written all along) and, where the stop cut the
    write-out short, some of its results, but no checkpoint of its own: the same command with ckpt_path=auto
    resumes the group from the group's checkpoint. Without one (the group's folder gone), a job that holds its own
    checkpoint is resumed alone from it, and a job whose dir holds a run without one is refused in one line, with
    nothing trained over it."""
    import shutil

    sweep = ["-m", "hydra/launcher=packed", "seed=0,1,2", "ckpt_path=auto", *TINY, *QUIET]
    sweep += ["evaluation.num_samples=300", f"hydra.sweep.dir={tmp_path}"]
    first = run_cli(*sweep)
    assert first.returncode == 0, first.stderr[-2000:]
    done = {job: json.loads((tmp_path / str(job) / "metrics.json").read_text()) for job in range(3)}
    assert all((tmp_path / str(job) / "tensorboard").is_dir() for job in range(3))

    def scores(job):
        metrics = json.loads((tmp_path / str(job) / "metrics.json").read_text())
        return [metrics[k] for k in metrics["declarations"]]

    for job in range(3):  # job 0: a write-out cut short after its samples; jobs 1 and 2: before them
        (tmp_path / str(job) / "metrics.json").unlink()
        shutil.rmtree(tmp_path / str(job) / "checkpoints")
    for job in (1, 2):
        (tmp_path / str(job) / "samples.npy").unlink()
    (group,) = (tmp_path / ".packed").iterdir()
    trained = torch.load(group / "checkpoints" / "last.ckpt", weights_only=True)["curvegan_seconds"]
    again = run_cli(*sweep)
    assert again.returncode == 0, again.stderr[-2000:]
    for job in range(3):
        assert scores(job) == [done[job][k] for k in done[job]["declarations"]]
        metrics = json.loads((tmp_path / str(job) / "metrics.json").read_text())
        assert metrics["seconds"] >= trained / 3 > 0  # its share of both starts' training, not the resumed one's
        assert (tmp_path / str(job) / "checkpoints" / "last.ckpt").is_file()

    shutil.rmtree(tmp_path / ".packed")  # no checkpoint of the group; job 1 without one of its own either
    shutil.rmtree(tmp_path / "1" / "checkpoints")
    (tmp_path / "1" / "metrics.json").unlink()

    def written(job):  # what the job wrote (Hydra writes its .hydra/ and log again, as for any refused job)
        files = [p for p in (tmp_path / str(job)).rglob("*") if p.is_file() and ".hydra" not in p.parts]
        return sorted((p, p.stat().st_mtime_ns) for p in files if p.suffix != ".log")

    before = written(1)
    refused = run_cli(*sweep)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"job 1's dir {tmp_path / '1'} already holds a run" in refused.stderr
    assert written(1) == before and not (tmp_path / "1" / "metrics.json").exists()
    assert "as one ensemble" not in refused.stdout + refused.stderr and not (tmp_path / ".packed").exists()
    for job in (0, 2):  # resumed alone from their own checkpoints: their measurement again
        assert scores(job) == pytest.approx([done[job][k] for k in done[job]["declarations"]], rel=1e-4)
        assert f"run dir: {tmp_path / str(job)}" in refused.stdout


def test_a_group_halved_by_the_memory_preflight_resumes_from_its_halves_checkpoints(tmp_path):
    """A group the memory preflight halved has checkpoints of its halves only: its jobs' dirs are theirs to resume
    (the preflight halves it again), and only the jobs no checkpoint resumes are left out."""
    from types import SimpleNamespace

    from curvegan.packed import group_name, halves, may_train

    def job(index, ckpt_path="auto"):
        (tmp_path / str(index) / "tensorboard").mkdir(parents=True, exist_ok=True)
        task = {"ckpt_path": ckpt_path}
        return SimpleNamespace(index=index, overrides=[f"seed={index}"], task=task, dir=tmp_path / str(index))

    group = [job(k) for k in range(6)]
    first, second = halves(group)
    for part in (second, halves(first)[1]):  # checkpoints of jobs 3-5 and of jobs 1-2
        (tmp_path / ".packed" / group_name(part) / "checkpoints").mkdir(parents=True)
        (tmp_path / ".packed" / group_name(part) / "checkpoints" / "last.ckpt").touch()
    kept, held = may_train(group, tmp_path)
    assert [j.index for j in kept] == [1, 2, 3, 4, 5] and [j.index for j in held] == [0]
    kept, held = may_train([job(k, ckpt_path=None) for k in range(6)], tmp_path)  # a new sweep in a used dir
    assert kept == [] and len(held) == 6


@pytest.mark.slow
def test_a_sigterm_during_a_group_resumes_with_the_same_command_to_the_uninterrupted_numbers(tmp_path):
    import os
    import signal
    import time

    sweep = ["-m", "hydra/launcher=packed", "model.g_lr=1e-4,2e-4", "seed=0,1", "ckpt_path=auto"]  # TensorBoard on
    sweep += ["data.batches_per_epoch=100", "trainer.max_epochs=4", "evaluation.num_samples=500", *QUIET]
    sweep += ["hydra.launcher.processes=2"]  # two groups side by side: the signal reaches both
    whole = run_cli(*sweep, f"hydra.sweep.dir={tmp_path / 'whole'}")
    assert whole.returncode == 0, whole.stderr[-2000:]
    command = [sys.executable, "-m", "curvegan.train", *sweep, f"hydra.sweep.dir={tmp_path / 'stopped'}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(list((tmp_path / "stopped" / ".packed").glob("*/checkpoints/epoch001.ckpt"))) < 2:
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM
    assert "resume with the same command with ckpt_path=auto" in stderr and "Traceback" not in stderr
    assert len(list((tmp_path / "stopped").glob("*/metrics.json"))) < 4  # (a group may have finished a job)
    again = run_cli(*sweep, f"hydra.sweep.dir={tmp_path / 'stopped'}")
    assert again.returncode == 0, again.stderr[-2000:]
    for job in range(4):
        a, b = (json.loads((tmp_path / d / str(job) / "metrics.json").read_text()) for d in ("whole", "stopped"))
        assert [a[k] for k in a["declarations"]] == [b[k] for k in b["declarations"]]
        assert [h["objective"] for h in a["history"]] == [h["objective"] for h in b["history"]]


def test_a_groups_monitors_measure_each_epoch_before_a_stop_signals_checkpoint(tmp_path):
    """A stop signal that lands at an epoch's end writes its checkpoint in StopOnSignal.on_train_epoch_end: the jobs'
    monitors (a group's extra callbacks) must have measured that epoch by then, or the resumed jobs' histories
    lack it (as a lone run's monitor, listed before stop_on_signal in its config, has)."""
    import lightning.pytorch as L

    from curvegan.signals import StopOnSignal
    from curvegan.train import build

    extra = L.Callback()
    *_, trainer = build(compose_config(*TINY, "logger=none", run_dir=tmp_path), extra_callbacks=(extra,))
    stop = next(k for k, c in enumerate(trainer.callbacks) if isinstance(c, StopOnSignal))
    assert trainer.callbacks.index(extra) < stop


def test_the_launcher_composes_each_job_as_hydra_does(tmp_path):
    """curvegan.packed.Composer composes once per choice of config groups and applies the value overrides: the
    same config, hydra node included, as Hydra's load_sweep_config."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from curvegan.packed import Composer

    register_schemas()
    sweeps = [
        ["model.g_lr=1e-4", "seed=3"],
        ["objective=hinge", "model.g_lr=2e-4", "model.betas=[0.0,0.9]"],
        ["model.g_lr=1e-4", "objective=hinge", "+model.generator.init_std=0.02"],
        ["data=ring", "ensemble.size=4", "objective.r1=1.0"],
        ["experiment=best", "model.d_lr=1e-3"],
        ["model.g_lr=1e-4", "seed=4"],
    ]
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        master = loader.load_configuration(
            "train", overrides=[f"hydra.sweep.dir={tmp_path}"], run_mode=RunMode.MULTIRUN
        )
        compose = Composer(loader, master)
        for overrides in sweeps:
            ours, hydras = compose(overrides), loader.load_sweep_config(master, overrides)
            assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(hydras), overrides
    assert len(compose.composed) == 4  # one composition per choice of groups: none, hinge, ring, best


# one case in the default run (each is a Hydra process, 5 s); the others with the slow tests
BAD_SETTINGS = [("max_members", "0")]
BAD_SETTINGS += [pytest.param("max_members", v, marks=pytest.mark.slow) for v in ("-3", "true", "1.5")]
BAD_SETTINGS += [
    pytest.param("processes", v, marks=pytest.mark.slow) for v in ("all", "0", "-1", "false", "null", "2.5")
]


@pytest.mark.parametrize("key, value", BAD_SETTINGS)
def test_a_bad_launcher_setting_is_refused_in_one_line_before_anything_is_written(tmp_path, key, value):
    result = run_cli(
        "-m",
        "hydra/launcher=packed",
        f"hydra.launcher.{key}={value}",
        "seed=0,1",
        f"hydra.sweep.dir={tmp_path / 's'}",
    )
    assert result.returncode == 2 and not (tmp_path / "s").exists()
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("curvegan.train: ") and f"hydra.launcher.{key}={value}" in line and "Traceback" not in line


@pytest.mark.slow
def test_groups_train_side_by_side_with_the_numbers_of_one_group(tmp_path):
    """processes=2 halves the sweep's one group and trains the halves in two processes at once; every job ends as
    it does in the one group of processes=1 (float32 sums of another order at most) and looks as if it ran alone."""
    sweep = ["-m", "hydra/launcher=packed", "seed=0,1,2,3", "logger=none", *TINY, *QUIET]
    runs = {n: run_cli(*sweep, f"hydra.launcher.processes={n}", f"hydra.sweep.dir={tmp_path / str(n)}") for n in (1, 2)}
    for result in runs.values():
        assert result.returncode == 0, result.stderr[-2000:]
    logs = {n: r.stdout + r.stderr for n, r in runs.items()}
    assert logs[1].count("as one ensemble of 4 GANs") == 1 and logs[2].count("as one ensemble of 2 GANs") == 2
    assert len(list((tmp_path / "2" / ".packed").iterdir())) == 2
    for job in range(4):
        one, two = (json.loads((tmp_path / str(n) / str(job) / "metrics.json").read_text()) for n in (1, 2))
        assert (tmp_path / "2" / str(job) / ".hydra" / "overrides.yaml").is_file()
        assert one["packed"]["members"] == 4 and two["packed"]["members"] == 2
        for name in one["declarations"]:
            assert two[name] == pytest.approx(one[name], rel=1e-4, abs=1e-5), (job, name)


@pytest.mark.slow
def test_a_group_whose_process_dies_fails_in_one_line_and_the_others_finish(tmp_path):
    import os
    import signal
    import time

    sweep = ["-m", "hydra/launcher=packed", "hydra.launcher.processes=2", "seed=0,1,2,3", "logger=none", *QUIET]
    sweep += ["data.batches_per_epoch=100", "trainer.max_epochs=60", "evaluation.num_samples=500"]
    command = [sys.executable, "-m", "curvegan.train", *sweep, f"hydra.sweep.dir={tmp_path}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while len(list((tmp_path / ".packed").glob("*/checkpoints/epoch001.ckpt"))) < 2:
        assert process.poll() is None and time.time() < deadline, process.communicate()
        time.sleep(0.05)
    children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
    os.kill(int(children[0]), signal.SIGKILL)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 2 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith("curvegan.train: the process training 2 jobs")
    assert "ckpt_path=auto" in stderr.strip().splitlines()[-1]
    assert len(list(tmp_path.glob("*/metrics.json"))) == 2  # the other group's jobs finished


@pytest.mark.slow
def test_a_job_finished_before_its_groups_process_dies_is_finished_as_a_lone_run_is(tmp_path):
    """Side by side, a job is handed back as soon as its dir is complete: when its group's process dies while
    finishing the next job, the finished one still has its `.hydra/`, its log and its summary line, as a job the
    basic launcher ran; the sweep fails in one line, and the job that was not finished has no metrics.json."""
    import textwrap

    prelude = textwrap.dedent("""
        import os, signal
        import curvegan.evaluation as evaluation
        final = evaluation.final
        def dying(gan, evaluator, samples_path):
            if samples_path is not None and samples_path.parent.name == "3":  # the second job of group #2, #3
                os.kill(os.getpid(), signal.SIGKILL)
            return final(gan, evaluator, samples_path)
        evaluation.final = dying
    """)
    sweep = ["-m", "hydra/launcher=packed", "hydra.launcher.processes=2", "seed=0,1,2,3", *UPDATES, *QUIET]
    argv = ["curvegan.train", *sweep, "trainer.max_epochs=1", f"hydra.sweep.dir={tmp_path}"]
    code = prelude + f"import sys, runpy\nsys.argv = {argv!r}\nrunpy.run_module('curvegan.train', run_name='__main__')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("curvegan.train: the process training 2 jobs (#2, #3)")
    assert sorted(p.parent.name for p in tmp_path.glob("*/metrics.json")) == ["0", "1", "2"]
    for finished in ("0", "1", "2"):
        assert (tmp_path / finished / ".hydra" / "config.yaml").exists(), finished
        assert f"run dir: {tmp_path / finished}" in result.stdout
    assert f"run dir: {tmp_path / '3'}" not in result.stdout


# one class in the default run (each case is two Hydra processes, 6 s); the other two with the slow tests
@pytest.mark.parametrize(
    "bad",
    [
        "model.nosuch=1",
        pytest.param("objective=nosuch", marks=pytest.mark.slow),
        pytest.param("model.betas=[0.5]x", marks=pytest.mark.slow),
    ],
)
def test_a_sweep_that_cannot_compose_is_refused_as_the_basic_launcher_refuses_it(tmp_path, bad):
    """The sweeper checks every job's composition before launching (through the launcher's shared composition,
    curvegan.packed.ComposingLoader): the same one line as Hydra's basic launcher, and nothing written."""
    lines = []
    for launcher in ("basic", "packed"):
        out = tmp_path / launcher
        result = run_cli("-m", f"hydra/launcher={launcher}", "model.g_lr=1e-4,2e-4", bad, f"hydra.sweep.dir={out}")
        assert result.returncode != 0 and not out.exists(), launcher
        (line,) = result.stderr.strip().splitlines()
        lines.append(line)
    assert lines[0] == lines[1] and "Traceback" not in lines[1]


@pytest.mark.slow
def test_a_packed_jobs_tensorboard_has_what_the_job_alone_logs(tmp_path):
    """Its own events (the same tags as the job alone: quality, figures, histograms) and its settings."""
    import yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tiny = ["trainer.max_epochs=2", "data.batches_per_epoch=30", "evaluation.num_samples=300"]
    packed = run_cli("-m", "hydra/launcher=packed", "seed=0,1", *tiny, f"hydra.sweep.dir={tmp_path / 'packed'}")
    alone = run_cli("seed=1", *tiny, f"hydra.run.dir={tmp_path / 'alone'}")
    assert packed.returncode == 0 and alone.returncode == 0, packed.stderr[-2000:] + alone.stderr[-2000:]
    guidance = {"images": 0, "scalars": 0, "histograms": 0}
    tags = [
        EventAccumulator(str(run / "tensorboard"), size_guidance=guidance).Reload().Tags()
        for run in (tmp_path / "packed" / "1", tmp_path / "alone")
    ]
    for kind in ("scalars", "images", "histograms"):
        assert sorted(tags[0][kind]) == sorted(tags[1][kind]) and tags[0][kind], kind
    settings = [
        yaml.safe_load((run / "tensorboard" / "hparams.yaml").read_text())
        for run in (tmp_path / "packed" / "1", tmp_path / "alone")
    ]
    assert settings[0] == settings[1] and settings[0]["seed"] == 1


@pytest.mark.parametrize("model", ["mlp", "cgan", "infogan"])
def test_ds_view_is_the_members_own_in_an_ensemble_in_a_member_alone_and_in_a_packed_jobs_view(model, tmp_path):
    """D's view (curvegan.sampling.d_view) of member 2 of an ensemble is what member 2 alone, and a packed job
    holding members 1–3 (its member 1), see: the same real samples, fakes and scores."""
    from curvegan.gan import GAN
    from curvegan.packed import JobView
    from curvegan.sampling import d_view
    from curvegan.train import model_of

    cfg = compose_config(f"model={model}", "ensemble.size=4", "model.pack=2", run_dir=tmp_path)
    whole = model_of(cfg)
    single = model_of(compose_config(f"model={model}", "model.pack=2", run_dir=tmp_path))
    single.load_state_dict(GAN.member_state_dict(whole.state_dict(), 2))
    lone = model_of(compose_config(f"model={model}", "model.pack=2", "ensemble.size=3", run_dir=tmp_path))
    real, fake = d_view(whole, 2, seed=7)
    assert real.shape == fake.shape == (420,)
    for other in (d_view(single, 0, seed=7), d_view(JobView(whole, slice(1, 4), lone), 1, seed=7)):
        assert torch.allclose(other[0], real, atol=1e-6) and torch.allclose(other[1], fake, atol=1e-6)
    assert not torch.allclose(d_view(whole, 1, seed=7)[1], fake)  # another member's


@pytest.mark.parametrize("path", ["runs of shared betas", "every member at once"])
def test_memberwise_adam_past_eight_settings_steps_as_one_fused_adam_per_setting(path):
    """Past 8 runs of settings, MemberwiseAdam leaves the fused kernel per run (a sweep packs many): by runs of
    shared betas scaled by each member's rate, or the formula over every member at once. Both make the steps a
    fused Adam per setting makes, to float32 rounding."""
    from curvegan.memberwise import MemberwiseAdam

    members = 24
    lr = torch.tensor([1e-4 * (1 + k // 2) for k in range(members)])  # 12 settings of 2 members
    beta1 = (
        [0.5 if k < 12 else 0.0 for k in range(members)]
        if path.startswith("runs")
        else [k / 30 for k in range(members)]
    )
    betas = torch.tensor([[b, 0.999] for b in beta1])
    grads = torch.Generator().manual_seed(0)

    def weights():
        return [torch.nn.Parameter(torch.ones(members, 6, 5)), torch.nn.Parameter(torch.zeros(members, 1, 5))]

    ours = weights()
    theirs = [[torch.nn.Parameter(p[k : k + 1].detach().clone()) for p in weights()] for k in range(members)]
    adam = MemberwiseAdam(ours, lr, betas)
    assert len(adam.runs) > adam.FUSED_RUNS and (len(adam.beta_runs) > adam.FUSED_RUNS) == path.startswith("every")
    alone = [
        torch.optim.Adam(theirs[k], lr=float(lr[k]), betas=tuple(betas[k].tolist()), fused=True) for k in range(members)
    ]
    for _ in range(20):
        drawn = [torch.randn(p.shape, generator=grads) for p in ours]
        for p, g in zip(ours, drawn, strict=True):
            p.grad = g.clone()
        adam.step()
        for k, optimizer in enumerate(alone):
            for p, g in zip(optimizer.param_groups[0]["params"], drawn, strict=True):
                p.grad = g[k : k + 1].clone()
            optimizer.step()
    for i, mine in enumerate(ours):
        own = torch.cat([theirs[k][i] for k in range(members)])
        assert (mine - own).abs().max() <= 1e-6


def test_memberwise_adam_whose_state_is_loaded_midway_steps_as_the_uninterrupted_one():
    """MemberwiseAdam keeps slices of the weights and moments between steps; loading a state dict (a resumed run)
    replaces the moments, and the steps after it must use the loaded ones, not those it stepped before."""
    import copy

    from curvegan.memberwise import MemberwiseAdam

    members, grads = 24, torch.Generator().manual_seed(1)
    lr = torch.tensor([1e-3 * (1 + k // 2) for k in range(members)])  # 12 settings: the scaled path
    betas = torch.tensor([[0.5 if k < 12 else 0.0, 0.999] for k in range(members)])

    def gradients():
        return [torch.randn(members, 6, 5, generator=grads), torch.randn(members, 1, 5, generator=grads)]

    drawn, detour = [gradients() for _ in range(8)], [gradients() for _ in range(2)]
    runs = []
    for resumed in (False, True):
        params = [torch.nn.Parameter(torch.ones(members, 6, 5)), torch.nn.Parameter(torch.zeros(members, 1, 5))]
        adam = MemberwiseAdam(params, lr, betas)
        for n, step in enumerate(drawn):
            if resumed and n == 4:  # saved here, two other steps, then loaded back: as a resume from a checkpoint
                saved, weights = copy.deepcopy(adam.state_dict()), [p.detach().clone() for p in params]
                for other in detour:
                    for p, g in zip(params, other, strict=True):
                        p.grad = g.clone()
                    adam.step()
                with torch.no_grad():
                    for p, w in zip(params, weights, strict=True):
                        p.copy_(w)
                adam.load_state_dict(saved)
            for p, g in zip(params, step, strict=True):
                p.grad = g.clone()
            adam.step()
        runs.append([p.detach().clone() for p in params])
    assert all(torch.equal(a, b) for a, b in zip(*runs, strict=True))
