"""Every bad input is refused in one line that names the key, with exit status 2, no traceback, nothing written."""

import subprocess
import sys

import pytest
from omegaconf import DictConfig, OmegaConf

from conftest import TINY, compose_config
from curvegan.config import ConfigError, leaves, validate
from curvegan.train import cli

# key: (an override giving it a bad value, the start of the one line that refuses it after "curvegan.train: ")
BAD = {
    "seed": ("seed=-1", "seed=-1: must be a whole number in [0, 4294967295]"),
    "ensemble.size": ("ensemble.size=0", "ensemble.size=0: must be a whole number ≥ 1"),
    "run_dir": ("run_dir=''", "run_dir=: must be a non-empty string"),
    "cpu_threads": ("cpu_threads=0", "cpu_threads=0: must be auto, null or a whole number ≥ 1"),
    "ckpt_path": ("ckpt_path=/no/such.ckpt", "ckpt_path=/no/such.ckpt: must be an existing checkpoint file"),
    "evaluation.num_samples": ("evaluation.num_samples=1", "evaluation.num_samples=1: must be a whole number ≥ 2"),
    "evaluation.seed": ("evaluation.seed=-5", "evaluation.seed=-5: must be a whole number in [0, 4294967295]"),
    "data._target_": ("data._target_=nope.Nope", "data._target_=nope.Nope: must be an importable class"),
    "data.a_min": ("data.a_min=-inf", "data.a_min=-inf: must be a finite number"),
    "data.a_max": ("data.a_max=inf", "data.a_max=inf: must be a finite number"),
    "data.num_points": ("data.num_points=2", "data.num_points=2: must be a whole number ≥ 3"),
    "data.batch_size": ("data.batch_size=0", "data.batch_size=0: must be a whole number ≥ 1"),
    "data.batches_per_epoch": ("data.batches_per_epoch=-5", "data.batches_per_epoch=-5: must be a whole number ≥ 1"),
    "data.batches_per_step": ("data.batches_per_step=0", "data.batches_per_step=0: must be a whole number ≥ 1"),
    "data.members": ("data.members=3", "data.members=3: must be the same as ensemble.size (1)"),
    "data.seed": ("data.seed=-1", "data.seed=-1: must be a whole number in [0, 4294967295]"),
    "data.modes": ("data=modes data.modes=[]", "data.modes=[]: must be a list of one or more finite numbers"),
    "data.mode_std": ("data=modes data.mode_std=0", "data.mode_std=0.0: must be a finite number > 0"),
    "model._target_": ("model._target_=nope.Nope", "model._target_=nope.Nope: must be an importable class"),
    "model.members": ("model.members=2", "model.members=2: must be the same as ensemble.size (1)"),
    "model.latent_dim": ("model.latent_dim=0", "model.latent_dim=0: must be a whole number ≥ 1"),
    "model.latent": ("model.latent=cauchy", "model.latent=cauchy: must be one of normal, uniform, mixture"),
    "model.latent_modes": ("model.latent_modes=1", "model.latent_modes=1: must be a whole number ≥ 2"),
    "model.latent_spread": ("model.latent_spread=0", "model.latent_spread=0.0: must be a finite number > 0"),
    "model.num_points": ("model.num_points=8", "model.num_points=8: must be the same as data.num_points (16)"),
    "model.g_hidden": ("model.g_hidden=[32,0]", "model.g_hidden=[32, 0]: must be a list of layer widths"),
    "model.d_hidden": ("model.d_hidden=[-1]", "model.d_hidden=[-1]: must be a list of layer widths"),
    "model.d_steps": ("model.d_steps=0", "model.d_steps=0: must be a whole number ≥ 1"),
    "model.g_lr": ("model.g_lr=0", "model.g_lr=0.0: must be a finite number > 0"),
    "model.d_lr": ("model.d_lr=inf", "model.d_lr=inf: must be a finite number > 0"),
    "model.betas": ("model.betas=[0.5]", "model.betas=[0.5]: must be two numbers in [0, 1)"),
    "model.grad_clip": ("model.grad_clip=-1", "model.grad_clip=-1.0: must be null or a finite number > 0"),
    "model.lr_decay": ("model.lr_decay=maybe", "Error merging override model.lr_decay=maybe"),
    "model.g_ema": ("model.g_ema=1.5", "model.g_ema=1.5: must be null or a finite number > 0 < 1"),
    "model.objective": ("model.objective=nope", "model.objective=nope: must be an objective's settings"),
    "model.objective.gp_weight": (
        "model.objective={name:wgan_gp,gp_weight:-1}",
        "objective.gp_weight=-1: must be a finite number ≥ 0",
    ),
    "model.pack": ("model.pack=0", "model.pack=0: must be a whole number ≥ 1"),
    "model.preview_curves": ("model.preview_curves=0", "model.preview_curves=0: must be a whole number ≥ 1"),
    "model.log_every_n_updates": ("model.log_every_n_updates=0", "model.log_every_n_updates=0: must be a whole"),
    "model.seed": ("model.seed=-1", "model.seed=-1: must be a whole number in [0, 4294967295]"),
    "model.condition_range": ("model=cgan model.condition_range=[2,1]", "model.condition_range=[2.0, 1.0]: must be"),
    "model.codes": ("model=infogan model.codes=-1", "model.codes=-1: must be a whole number ≥ 0"),
    "model.categories": ("model=infogan model.categories=1", "model.categories=1: must be 0 (none) or a whole"),
    "model.info_weight": ("model=infogan model.info_weight=-1", "model.info_weight=-1.0: must be a finite number ≥ 0"),
    "objective.name": ("objective.name=nope", "objective=nope: must be one of bce, hinge"),
    "objective.r1": ("objective.r1=-1", "objective.r1=-1: must be a finite number ≥ 0"),
    "objective.gp_weight": ("objective=wgan_gp objective.gp_weight=-1", "objective.gp_weight=-1: must be a finite"),
    "trainer._target_": ("trainer._target_=nope.Nope", "trainer._target_=nope.Nope: must be an importable class"),
    "trainer.accelerator": ("trainer.accelerator=tpu", "trainer.accelerator=tpu: must be one of cpu, gpu, cuda"),
    "trainer.devices": ("trainer.devices=0", "trainer.devices=0: must be a whole number ≥ 1, a list"),
    "trainer.max_epochs": ("trainer.max_epochs=0", "trainer.max_epochs=0: must be a whole number ≥ 1"),
    "trainer.log_every_n_steps": ("trainer.log_every_n_steps=0", "trainer.log_every_n_steps=0: must be a whole"),
    "trainer.default_root_dir": ("trainer.default_root_dir=''", "trainer.default_root_dir=: must be null or a"),
    "trainer.enable_model_summary": ("trainer.enable_model_summary=maybe", "Error merging override trainer.enable_m"),
    "trainer.strategy": ("trainer.strategy=fsdp", "trainer.strategy=fsdp: must be one of auto, ddp"),
    "trainer.enable_checkpointing": ("trainer.enable_checkpointing=maybe", "Error merging override trainer.enable_c"),
    "trainer.enable_progress_bar": ("trainer.enable_progress_bar=maybe", "Error merging override trainer.enable_p"),
    "trainer.precision": ("trainer.precision=8", "trainer.precision=8: must be null or one of 32-true"),
    "trainer.deterministic": ("trainer.deterministic=sometimes", "trainer.deterministic=sometimes: must be null or"),
    "trainer.num_nodes": ("trainer.num_nodes=0", "trainer.num_nodes=0: must be a whole number ≥ 1"),
    "trainer.max_steps": ("trainer.max_steps=-2", "trainer.max_steps=-2: must be a whole number ≥ -1"),
    "trainer.limit_train_batches": ("trainer.limit_train_batches=1.5", "trainer.limit_train_batches=1.5: must be"),
    "trainer.profiler": ("trainer.profiler=fancy", "trainer.profiler=fancy: must be null or one of simple"),
    "callbacks.checkpoint._target_": ("callbacks.checkpoint._target_=x.Y", "callbacks.checkpoint._target_=x.Y: must"),
    "callbacks.checkpoint.dirpath": ("callbacks.checkpoint.dirpath=''", "callbacks.checkpoint.dirpath=: must be a"),
    "callbacks.checkpoint.filename": ("callbacks.checkpoint.filename=''", "callbacks.checkpoint.filename=: must be"),
    "callbacks.checkpoint.auto_insert_metric_name": (
        "callbacks.checkpoint.auto_insert_metric_name=maybe",
        "callbacks.checkpoint.auto_insert_metric_name=maybe: must be true or false",
    ),
    "callbacks.checkpoint.every_n_epochs": ("callbacks.checkpoint.every_n_epochs=0", "callbacks.checkpoint.every_n_e"),
    "callbacks.checkpoint.save_top_k": ("callbacks.checkpoint.save_top_k=-2", "callbacks.checkpoint.save_top_k=-2"),
    "callbacks.checkpoint.save_last": ("callbacks.checkpoint.save_last=2", "callbacks.checkpoint.save_last=2: must"),
    "callbacks.curves._target_": ("callbacks.curves._target_=x.Y", "callbacks.curves._target_=x.Y: must be an"),
    "callbacks.curves.every_n_epochs": ("callbacks.curves.every_n_epochs=0", "callbacks.curves.every_n_epochs=0: must"),
    "callbacks.curves.num_samples": ("callbacks.curves.num_samples=1", "callbacks.curves.num_samples=1: must be"),
    "callbacks.curves.seed": ("callbacks.curves.seed=-1", "callbacks.curves.seed=-1: must be a whole number in"),
    "callbacks.curves.gif_path": ("callbacks.curves.gif_path=''", "callbacks.curves.gif_path=: must be null or"),
    "callbacks.curves.gif_frame_ms": ("callbacks.curves.gif_frame_ms=0", "callbacks.curves.gif_frame_ms=0: must be"),
    "callbacks.curves.members_shown": ("callbacks.curves.members_shown=17", "callbacks.curves.members_shown=17: must"),
    "callbacks.progress_bar._target_": ("callbacks.progress_bar._target_=x.Y", "callbacks.progress_bar._target_=x.Y"),
    "callbacks.progress_bar.refresh_rate": ("callbacks.progress_bar.refresh_rate=-1", "callbacks.progress_bar.refre"),
    "callbacks.stop_on_signal._target_": ("callbacks.stop_on_signal._target_=x.Y", "callbacks.stop_on_signal._tar"),
    "callbacks.stop_on_signal.ckpt_path": ("callbacks.stop_on_signal.ckpt_path=''", "callbacks.stop_on_signal.ckpt_"),
    "logger.tensorboard._target_": ("logger.tensorboard._target_=x.Y", "logger.tensorboard._target_=x.Y: must be"),
    "logger.tensorboard.save_dir": ("logger.tensorboard.save_dir=''", "logger.tensorboard.save_dir=: must be a"),
    "logger.tensorboard.name": ("logger.tensorboard.name=''", "logger.tensorboard.name=: must be a non-empty"),
    "logger.tensorboard.version": ("logger.tensorboard.version=[1]", "logger.tensorboard.version=[1]: must be null"),
    "logger.tensorboard.default_hp_metric": ("logger.tensorboard.default_hp_metric=3", "logger.tensorboard.default_h"),
    "logger.csv._target_": ("logger=csv logger.csv._target_=x.Y", "logger.csv._target_=x.Y: must be an importable"),
    "logger.csv.save_dir": ("logger=csv logger.csv.save_dir=''", "logger.csv.save_dir=: must be a non-empty"),
    "logger.csv.name": ("logger=csv logger.csv.name=''", "logger.csv.name=: must be a non-empty string"),
    "logger.csv.version": ("logger=csv logger.csv.version=[1]", "logger.csv.version=[1]: must be null or"),
    "logger.mlflow._target_": ("logger=mlflow logger.mlflow._target_=x.Y", "logger.mlflow._target_=x.Y: must be"),
    "logger.mlflow.experiment_name": ("logger=mlflow logger.mlflow.experiment_name=''", "logger.mlflow.experiment_na"),
    "logger.mlflow.tracking_uri": ("logger=mlflow logger.mlflow.tracking_uri=''", "logger.mlflow.tracking_uri=: must"),
    "logger.mlflow.run_name": ("logger=mlflow logger.mlflow.run_name=[1]", "logger.mlflow.run_name=[1]: must be nul"),
    "logger.wandb._target_": ("logger=wandb logger.wandb._target_=x.Y", "logger.wandb._target_=x.Y: must be an"),
    "logger.wandb.project": ("logger=wandb logger.wandb.project=''", "logger.wandb.project=: must be a non-empty"),
    "logger.wandb.name": ("logger=wandb logger.wandb.name=[1]", "logger.wandb.name=[1]: must be null or a"),
    "logger.wandb.save_dir": ("logger=wandb logger.wandb.save_dir=''", "logger.wandb.save_dir=: must be a non-empty"),
    "logger.wandb.offline": ("logger=wandb logger.wandb.offline=maybe", "logger.wandb.offline=maybe: must be true or"),
}
UNKNOWN = {
    "+callbacks.curves.bogus=1": "callbacks.curves.bogus=1: not a key curvegan knows",
    "+logger.tensorboard.bogus=1": "logger.tensorboard.bogus=1: not a key curvegan knows",
    "+bogus=1": "bogus=1: not a key curvegan knows",
    "model.nope=1": "Could not override 'model.nope'.",
    "objective=nope": "In 'train': Could not find 'objective/nope'",
    "experiment=nope": "In 'train': Could not find 'experiment/nope'",
    "model.latent_dim=ten": "Error merging override model.latent_dim=ten: Value 'ten' of type",
    "ensemble.size=2.5": "ensemble.size=2.5: must be a whole number ≥ 1",
    "seed=99999999999999999999": "seed=99999999999999999999: must be a whole number in [0, 4294967295]",
    "ensemble.size=100000000": "ensemble.size=100000000: needs about",
    "trainer=ddp ensemble.size=2": "trainer.strategy=ddp_find_unused_parameters_true: must be auto with ensemble",
    "hydra.run.dir=/proc/nope": "hydra.run.dir=/proc/nope: cannot be created",
    "+objective.bogus=1": "objective.bogus=1: not an option of bce (one of r1)",
    "data.a_min=2.5": "data.a_min=2.5: must be less than data.a_max (2.0)",
    "model.pack=3": "data.batch_size=32: must be a multiple of model.pack (3)",
    "model=infogan model.codes=0": "model.codes=0: must be ≥ 1 when model.categories is 0",
}
# The group options whose keys must all be in BAD too.
GROUP_OPTIONS = [
    [],
    ["logger=csv"],
    ["logger=mlflow"],
    ["logger=wandb"],
    ["data=modes"],
    ["objective=wgan_gp"],
    ["model=cgan"],
    ["model=infogan"],
]


def refuse(monkeypatch, capsys, tmp_path, overrides: str):
    """Run `python -m curvegan.train OVERRIDES` in this process; (exit status, stderr, whether anything was made)."""
    run_dir = tmp_path / "run"
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
    monkeypatch.setattr(sys, "argv", ["curvegan.train", f"hydra.run.dir={run_dir}", *overrides.split()])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        cli()
    return exited.value.code, capsys.readouterr().err, any(tmp_path.iterdir())


@pytest.mark.parametrize("override, line", [*BAD.values(), *UNKNOWN.items()], ids=[*BAD, *UNKNOWN])
def test_a_bad_value_is_refused_in_one_line_naming_it_and_nothing_is_written(
    monkeypatch, capsys, tmp_path, override, line
):
    status, stderr, wrote = refuse(monkeypatch, capsys, tmp_path, override)
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"curvegan.train: {line}"), stderr
    assert not wrote  # no run dir, no log, nothing


def keys_of(node, prefix=""):
    """Every leaf key of a config, unresolved (loggers' settings refer to Hydra's runtime)."""
    for key, value in node.items():
        if isinstance(value, dict):
            yield from keys_of(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_every_key_of_every_group_has_a_bad_value_in_the_table():
    keys = set()
    for options in GROUP_OPTIONS:
        cfg = compose_config(*options)
        keys |= set(keys_of(OmegaConf.to_container(cfg, resolve=False)))
    assert sorted(keys - set(BAD)) == []


def test_the_command_line_itself_refuses_in_one_line(tmp_path):
    """The real entry point, in a process of its own: no warning or log line besides the refusal."""
    for override in ("seed=-1", "hydra.run.dir=/proc/nope", "ensemble.size=0"):
        result = subprocess.run(
            [sys.executable, "-m", "curvegan.train", f"hydra.run.dir={tmp_path}/run", *override.split()],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == "", result.stderr
        assert not any(tmp_path.iterdir())


def test_validate_accepts_every_shipped_config():
    for options in [*GROUP_OPTIONS, ["experiment=best"], ["experiment=seed"], ["trainer=gpu"]]:
        if any(o.startswith("logger=") and o != "logger=csv" for o in options):
            continue  # their settings refer to Hydra's runtime: the command-line tests above cover them
        cfg = compose_config(*options, run_dir="/tmp/unused")
        if "trainer=gpu" in options:
            cfg.trainer.accelerator = "cpu"  # the schema and rules, not this machine's GPU
        validate(cfg)


def test_gpu_is_refused_where_torch_sees_none():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="trainer.accelerator=gpu: must be cpu here"):
        validate(compose_config("trainer=gpu", run_dir="/tmp/unused"))


def test_a_bad_job_in_a_sweep_is_reported_the_others_run_and_its_dir_is_removed(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "curvegan.train",
            "-m",
            "model.latent_dim=0,2",
            "logger=none",
            *TINY,
            f"hydra.sweep.dir={tmp_path}",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "curvegan.train: model.latent_dim=0: must be a whole number ≥ 1"
    assert (tmp_path / "1" / "metrics.json").exists() and not (tmp_path / "0").exists()


def test_leaves_lists_every_setting():
    cfg = DictConfig({"a": 1, "b": {"c": [1, 2], "d": {"e": None}}})
    assert list(leaves(cfg)) == [("a", 1), ("b.c", [1, 2]), ("b.d.e", None)]
