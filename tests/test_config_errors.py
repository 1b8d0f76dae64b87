"""Every bad input is refused in one line that names the key as given, with exit status 2, no traceback, nothing
written. The table of bad values is derived from the keys' declarations: every key of every group option, given
the value its rule names as one it refuses."""

import math
import re
import subprocess
import sys

import pytest
from hydra.utils import get_object
from omegaconf import OmegaConf, ValidationError

from conftest import CONFIGS, TINY, compose_config
from curvegan.config import ConfigError, RefuseBeforeRun, Run, declared_keys, validate
from curvegan.keys import keys_of
from curvegan.train import cli

# Every option of the groups that bring keys of their own: a new family, variant or objective is in the table as
# soon as its YAML is.
GROUP_OPTIONS = [[]] + [
    [f"{group}={path.stem}"]
    for group in ("data", "model", "objective", "logger")
    for path in sorted((CONFIGS / group).glob("*.yaml"))
]


def as_override(value) -> str:
    """A value as Hydra's command line writes it."""
    if value is None:
        return "null"
    if value == "":
        return "''"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if isinstance(value, list):
        return "[" + ",".join(as_override(v) for v in value) + "]"
    return str(value)


def declared_leaves(node: dict, keys, path: str = ""):
    """(dotted key, its declaration) of every declared leaf under a config node (unresolved, as a dict), each
    nested node by the keys its class declares."""
    for name, value in node.items():
        if name in ("_target_", "_partial_", "hydra"):
            continue
        dotted = f"{path}.{name}" if path else str(name)
        if isinstance(value, dict) and "_target_" in value:
            yield from declared_leaves(value, declared_keys(get_object(value["_target_"])), dotted)
        elif isinstance(value, dict) and name in ("callbacks", "logger") and not path:
            yield from declared_leaves(value, None, dotted)
        elif keys is not None and keys[name].keys is not None:
            yield from declared_leaves(value, keys[name].keys, dotted)
        elif keys is not None:
            yield dotted, keys[name]


BASES = {tuple(options): compose_config(*options) for options in GROUP_OPTIONS}  # composed once for every test


def bad_values() -> tuple[dict[str, str], dict[str, tuple]]:
    """{key: the overrides that give it a bad value} for every declared key of every group option, and {key: (the
    composed config of its group option, the bad value)}."""
    table, composed = {}, {}
    for options in GROUP_OPTIONS:
        base = BASES[tuple(options)]
        cfg = OmegaConf.to_container(base, resolve=False)
        for key, declared in declared_leaves(cfg, keys_of(Run)):
            table.setdefault(key, " ".join([*options, f"{key}={as_override(declared.rule.bad)}"]))
            composed.setdefault(key, (base, declared.rule.bad))
    return table, composed


BAD, COMPOSED = bad_values()


def over_values() -> dict[str, tuple]:
    """{key: (the composed config of its group option, the value exactly past its rule's upper bound)} for every
    declared key whose rule has one (an EMA decay of 1, a β of 1, as many threads as cores plus one, ...)."""
    over = {}
    for options in GROUP_OPTIONS:
        base = BASES[tuple(options)]
        for key, declared in declared_leaves(OmegaConf.to_container(base, resolve=False), keys_of(Run)):
            if declared.rule is not None and declared.rule.over is not None:
                over.setdefault(key, (base, declared.rule.over))
    return over


OVER = over_values()

# Classes of bad input beyond one key's rule, each with the start of the line that refuses it.
UNKNOWN = {
    "+callbacks.monitor.bogus=1": "callbacks.monitor.bogus=1: not a key of Monitor",
    "+logger.tensorboard.bogus=1": "logger.tensorboard.bogus=1: not a key of TensorBoardLogger",
    "+bogus=1": "bogus=1: not a key curvegan knows",
    "model.nope=1": "Could not override 'model.nope'.",
    "objective=nope": "In 'train': Could not find 'objective/nope'",
    "experiment=nope": "In 'train': Could not find 'experiment/nope'",
    "model.latent_dim=ten": "Error merging override model.latent_dim=ten",
    "ensemble.size=2.5": "Error merging override ensemble.size=2.5",
    "seed=99999999999999999999": "seed=99999999999999999999: must be a whole number in [0, 4294967295]",
    "ensemble.size=100000000": "ensemble.size=100000000: needs about",
    "data.batch_size=100000000": "data.batch_size=100000000: needs about",
    "trainer=ddp ensemble.size=2": "trainer.strategy=ddp_find_unused_parameters_true: must be auto with ensemble",
    "trainer=ddp model.simultaneous=true": "model.simultaneous=true: must be false with trainer.strategy=ddp_",
    "hydra.run.dir=/proc/nope": "hydra.run.dir=/proc/nope: cannot be created",
    "+objective.bogus=1": "objective.bogus=1: not a key of objective=bce (its keys: r1, r2)",
    "data.a_min=2.5": "data.a_min=2.5: must be less than data.a_max (2.0)",
    "model.pack=3": "data.batch_size=32: must be a multiple of model.pack (3)",
    "model=infogan model.variant.codes=0": "model.variant.codes=0: must be ≥ 1 when model.variant.categories is 0",
    # a key of another family or variant is refused, not obeyed
    "+data.modes=[1,2]": "data.modes=[1, 2]: not a key of data=quadratic",
    "data=modes +data.a_min=1.5": "data.a_min=1.5: not a key of data=modes",
    "+model.variant.codes=2": "model.variant.codes=2: not a key of model.variant=plain",
    "model=cgan +model.variant.categories=3": "model.variant.categories=3: not a key of model.variant=cgan",
    "+model.generator.bogus=1": "model.generator.bogus=1: not a key of EnsembleMLP",
    "cpu_threads=999": "cpu_threads=999: must be one of auto, null or a whole number in [1,",
    # a value that could only crash later is refused now
    "evaluation.num_samples=2": "evaluation.num_samples=2: must be more than evaluation.neighbours (5) while",
    "evaluation.neighbours=1000": "evaluation.neighbours=1000: must be less than the samples compared (1000) while",
    "data=modes data.modes=[1e9]": "data.modes=[1000000000.0]: must be a list of one or more numbers in [-1000, 1000]",
    "trainer.devices=[0]": "trainer.devices=[0]: must be a number of devices on the CPU",
    "trainer.devices=2": "trainer.devices=2: must be 1 without DDP",
    "trainer.num_nodes=2": "trainer.num_nodes=2: must be 1 here",
    "trainer.accelerator=mps": "trainer.accelerator=mps: must be cpu here",
    "data.batches_per_step=300 trainer.limit_train_batches=0.5": "trainer.limit_train_batches=0.5: must be a fraction",
    # every output's folder exists or can be made before anything starts
    "callbacks.monitor.gif_path=/proc/nope/progress.gif": "callbacks.monitor.gif_path=/proc/nope/progress.gif: cannot",
    "callbacks.checkpoint.dirpath=/proc/nope": "callbacks.checkpoint.dirpath=/proc/nope: cannot be written",
    "logger.tensorboard.save_dir=/proc/nope": "logger.tensorboard.save_dir=/proc/nope: cannot be written",
}


def refuse(monkeypatch, capsys, tmp_path, overrides: str):
    """Run `python -m curvegan.train OVERRIDES` in this process; (exit status, stderr, whether anything was made)."""
    run_dir = tmp_path / "run"
    monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
    monkeypatch.setattr(sys, "argv", ["curvegan.train", f"hydra.run.dir={run_dir}", *overrides.split()])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        cli()
    return exited.value.code, capsys.readouterr().err, any(tmp_path.iterdir())


def refused_in_composed(key: str, base, value) -> None:
    """Set key=value in its composed config and validate: it must be refused naming that key."""
    cfg = base.copy()
    cfg.run_dir = "/tmp/unused"
    for node in (cfg.logger or {}).values():  # Hydra's runtime is not set here: give its values plainly
        for k, v in OmegaConf.to_container(node, resolve=False).items():
            if isinstance(v, str) and "${hydra:" in v:
                node[k] = "run"
    try:
        OmegaConf.update(cfg, key, value, merge=False)
        validate(cfg)
    except ConfigError as refused:
        assert str(refused).startswith(f"{key}="), (key, str(refused))
    except ValidationError as refused:
        assert refused.full_key == key, (key, str(refused))
    else:
        pytest.fail(f"{key}={value!r} was accepted")


def test_a_value_exactly_past_every_rules_upper_bound_is_refused_naming_it():
    """A bound is where a planted off-by-one hides (model.g_ema=1 would never move the average): every rule with
    an upper bound refuses the value just past it."""
    assert {"model.g_ema", "model.betas", "cpu_threads", "callbacks.monitor.members_shown"} <= set(OVER)
    for key, (base, value) in OVER.items():
        refused_in_composed(key, base, value)


def test_a_bad_value_of_every_key_is_refused_naming_it():
    """Every key's bad value, set in its composed config: the check that runs before anything is written refuses
    it naming that key (or, for a typed key, OmegaConf's schema does, which Hydra reports as "Error merging override
    KEY=VALUE"). The command line's own line for each is the slow test below; its classes are the test after it."""
    for key, (base, value) in COMPOSED.items():
        refused_in_composed(key, base, value)


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(BAD))
def test_a_bad_value_of_every_key_is_refused_in_one_line_naming_it_and_nothing_is_written(
    monkeypatch, capsys, tmp_path, key
):
    status, stderr, wrote = refuse(monkeypatch, capsys, tmp_path, BAD[key])
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith("curvegan.train: ") and f"{key}=" in stderr, stderr
    assert not wrote  # no run dir, no log, nothing


@pytest.mark.parametrize("override, line", UNKNOWN.items(), ids=list(UNKNOWN))
def test_bad_input_of_every_class_is_refused_in_one_line_and_nothing_is_written(
    monkeypatch, capsys, tmp_path, override, line
):
    status, stderr, wrote = refuse(monkeypatch, capsys, tmp_path, override)
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.startswith(f"curvegan.train: {line}"), stderr
    assert not wrote


@pytest.mark.parametrize(
    "overrides, line",
    [
        ("hydra.run.dir=", "hydra.run.dir=: must be a path"),
        ("seed=0,1 hydra.sweep.dir= -m", "hydra.sweep.dir=: must be a path"),
        ("seed=0,1 hydra.sweep.subdir= -m", "hydra.sweep.subdir=: must be a path in hydra.sweep.dir, one per job"),
    ],
    ids=["run dir", "sweep dir", "sweep subdir"],
)
def test_an_empty_run_or_sweep_dir_is_refused_not_taken_for_the_working_folder(
    monkeypatch, capsys, tmp_path, overrides, line
):
    """Hydra takes "" for the folder the command runs in: a run, or every job of a sweep, would write there."""
    status, stderr, wrote = refuse(monkeypatch, capsys, tmp_path, overrides)
    assert status == 2 and stderr.startswith(f"curvegan.train: {line}") and len(stderr.splitlines()) == 1, stderr
    assert not wrote


def test_a_packed_sweep_whose_jobs_would_share_a_dir_is_refused_before_any_trains(monkeypatch, capsys, tmp_path):
    """A subdir that is the same for every job (the basic launcher refuses the second job, whose dir then holds a
    run; a packed group would write every job into the one dir)."""
    sweep = tmp_path / "sweep"
    overrides = f"hydra/launcher=packed seed=0,1,2 hydra.sweep.subdir=same hydra.sweep.dir={sweep} {' '.join(TINY)} -m"
    status, stderr, _ = refuse(monkeypatch, capsys, tmp_path, overrides)
    assert status == 2 and len(stderr.splitlines()) == 1, stderr
    assert stderr.startswith("curvegan.train: hydra.sweep.subdir=same: must be one dir per job (jobs 0 and 1 share")
    assert [p.name for p in sweep.iterdir()] == ["multirun.yaml"]  # Hydra's record of the sweep, written first


@pytest.mark.parametrize(
    "arguments, line",
    [("--nosuch", "unrecognized arguments: --nosuch"), ("seed=1 -m seed=2", "unrecognized arguments: seed=2")],
)
def test_a_command_line_argparse_cannot_read_is_refused_in_one_line(monkeypatch, capsys, tmp_path, arguments, line):
    """Not Hydra's usage text (nine lines) before argparse's own line: one line naming what it could not read."""
    status, stderr, wrote = refuse(monkeypatch, capsys, tmp_path, arguments)
    assert status == 2 and stderr.startswith(f"curvegan.train: {line}") and len(stderr.splitlines()) == 1, stderr
    assert not wrote


def test_the_table_covers_the_keys_a_user_meets():
    assert {"seed", "data.a_min", "data.modes", "model.generator.hidden", "model.variant.codes"} <= set(BAD)
    assert {"objective.gp_weight", "trainer.max_epochs", "callbacks.monitor.gif_path", "logger.wandb.offline"} <= set(
        BAD
    )


def test_every_rule_refuses_its_own_example_of_a_bad_value():
    for base in BASES.values():
        cfg = OmegaConf.to_container(base, resolve=False)
        for key, declared in declared_leaves(cfg, keys_of(Run)):
            assert declared.rule(declared.rule.bad) is not None, key
            assert declared.rule(declared.default) is None or "${" in str(declared.default), key


def test_the_command_line_itself_refuses_in_one_line(tmp_path):
    """The real entry point, in a process of its own: no warning or log line besides the refusal."""
    for override in ("seed=-1",):
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
    for options in [
        *GROUP_OPTIONS,
        ["experiment=best"],
        ["experiment=seed"],
        ["experiment=modes_best"],
        ["trainer=gpu"],
    ]:
        if any(
            o.startswith("logger=") and o not in ("logger=csv", "logger=none", "logger=tensorboard") for o in options
        ):
            continue  # their settings refer to Hydra's runtime: the command-line tests above cover them
        if tuple(options) in BASES:
            cfg = BASES[tuple(options)].copy()
            cfg.run_dir = "/tmp/unused"
            OmegaConf.resolve(cfg)
        else:
            cfg = compose_config(*options, run_dir="/tmp/unused")
        if "trainer=gpu" in options:
            cfg.trainer.accelerator = "cpu"  # the schema and rules, not this machine's GPU
        validate(cfg)


def test_gpu_is_refused_where_torch_sees_none():
    import torch

    from curvegan.config import ConfigError

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="trainer.accelerator=gpu: must be cpu here"):
        validate(compose_config("trainer=gpu", run_dir="/tmp/unused"))


def test_a_refusal_still_holds_the_day_hydra_stops_letting_its_callback_exit(monkeypatch, capsys, tmp_path):
    """Hydra turns a callback's exception into a warning; RefuseBeforeRun exits from inside it, which a later Hydra
    might catch too. Then the run itself refuses: the same line and status, and what Hydra wrote is removed."""
    monkeypatch.setattr(RefuseBeforeRun, "on_run_start", lambda self, config, **kwargs: None)
    status, stderr, _ = refuse(monkeypatch, capsys, tmp_path, "model.latent_dim=0")
    assert status == 2 and stderr.strip() == "curvegan.train: model.latent_dim=0: must be a whole number ≥ 1"
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "metrics.json").exists()


def test_a_run_dir_that_holds_a_run_is_refused_unless_resumed_and_never_mixed(monkeypatch, capsys, tmp_path):
    from curvegan.train import train

    finished, other = tmp_path / "finished", tmp_path / "other"
    for run in (finished, other):
        train(compose_config(*TINY, "logger=none", "trainer.max_epochs=1", run_dir=run))
    before = sorted(p.name for p in finished.rglob("*"))

    def command(*overrides):
        monkeypatch.setenv("HYDRA_FULL_ERROR", "0")
        monkeypatch.setattr(sys, "argv", ["curvegan.train", *TINY, "logger=none", *overrides])
        try:
            cli()
        except SystemExit as exited:
            return exited.code, capsys.readouterr().err
        return 0, capsys.readouterr().err

    status, stderr = command(f"hydra.run.dir={finished}")
    assert status == 2 and stderr.startswith(f"curvegan.train: hydra.run.dir={finished}: already holds a run (")
    status, stderr = command(f"hydra.run.dir={finished}", f"ckpt_path={other}/checkpoints/last.ckpt")
    assert status == 2 and "which holds another run" in stderr
    assert sorted(p.name for p in finished.rglob("*")) == before  # untouched: no new .hydra, no last-v1.ckpt
    status, _ = command(f"hydra.run.dir={finished}", "ckpt_path=last", "trainer.max_epochs=2")  # resumed: its own
    assert status == 0 and (finished / "metrics.json").exists()
    assert not list(finished.rglob("last-v*.ckpt"))


@pytest.mark.slow
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


def test_a_shipped_config_names_no_key_twice():
    """Nothing is copied into two groups: the ensemble's size, the seed and the sample's size are each one key."""
    cfg = OmegaConf.to_container(compose_config(), resolve=False)
    for group in ("data", "model"):
        assert not {"members", "seed", "num_points"} & (
            set(cfg[group]) - ({"num_points"} if group == "data" else set())
        )


def test_the_generic_metrics_reference_set_is_counted_before_the_run(tmp_path, monkeypatch):
    """evaluation.reference_samples sizes the generic metrics' distance matrices (R × R in float64): one that
    cannot fit is refused before the run, naming the key, and is free with evaluation.generic=false."""
    from curvegan import errors, preflight

    given = ["evaluation.reference_samples"]
    for module in (errors, preflight):
        monkeypatch.setattr(module, "given_keys", lambda: given)
    cfg = compose_config("evaluation.reference_samples=100000000", run_dir=tmp_path)
    with pytest.raises(ConfigError, match=r"^evaluation.reference_samples=100000000: needs about .* generic metrics"):
        validate(cfg)
    validate(compose_config("evaluation.reference_samples=100000000", "evaluation.generic=false", run_dir=tmp_path))
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "key, value",
    [
        ("data.num_points", "100000000"),
        ("evaluation.num_samples", "100000000"),
        ("model.latent_dim", "100000000"),
        ("model.generator.hidden", "[100000000]"),
        ("model.discriminator.hidden", "[32,100000000]"),
    ],
)
def test_a_memory_refusal_names_the_key_the_user_gave_of_those_that_size_it(monkeypatch, tmp_path, key, value):
    """The curves' length sizes every part as much as the number of samples does: data.num_points given, the
    refusal names it, not evaluation.num_samples; a network's size, its latent input or a width."""
    from curvegan import errors, preflight

    for module in (errors, preflight):
        monkeypatch.setattr(module, "given_keys", lambda: [key])
    shown = value.replace(",", ", ")
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}={re.escape(shown)}: needs about"):
        validate(compose_config(f"{key}={value}", run_dir=tmp_path))


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model.generator.hidden=[1024]", "model.discriminator.hidden=[1024]"],
        ["model.generator.hidden=[256,256]", "model.discriminator.activation=maxout"],
        ["model.generator.norm=batch", "model.generator.hidden=[64,64]"],
        ["model=cgan"],
        ["model=infogan"],
        ["experiment=pacgan_ring"],
    ],
    ids=["seed", "wide", "maxout", "batch norm", "cgan", "infogan", "pacgan ring"],
)
def test_the_memory_preflight_counts_the_weights_of_the_networks_the_run_builds(tmp_path, overrides):
    """Its weights and optimizer state: about the parameters each member trains (at most half again, for the inputs
    and outputs a variant may add), never a width times itself per piece: 512 members of 1024-wide networks were
    refused as 101 GB, and take 1.2 GB at their peak (the closing note of 2026-12-08)."""
    from curvegan import preflight
    from curvegan.train import build

    cfg = compose_config(*overrides, "ensemble.size=2", "logger=none", run_dir=tmp_path)
    estimated = preflight.memory_estimate(cfg)["weights and optimizer state"][1] / (4 * 2 * 6)  # a member's weights
    _, model, *_ = build(cfg)
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad) / 2
    assert trained <= estimated <= 1.5 * trained


def test_an_ensemble_of_wide_networks_that_fits_is_not_refused(tmp_path, monkeypatch):
    from curvegan import preflight

    monkeypatch.setattr(preflight, "available_memory", lambda: 8 * 2**30)
    wide = ["model.generator.hidden=[1024]", "model.discriminator.hidden=[1024]"]
    validate(compose_config(*wide, "ensemble.size=512", run_dir=tmp_path))
    with pytest.raises(ConfigError, match=r"^ensemble\.size=8192: needs about"):
        validate(compose_config(*wide, "ensemble.size=8192", run_dir=tmp_path))


def test_a_member_wise_key_takes_one_value_per_member_and_refuses_another_count(tmp_path):
    """model.g_lr, the betas, the EMA's decay, the clipping norm and the penalties' weights take a list, one value
    per member; a list of another length is refused naming the key, and a key that is not member-wise refuses a
    list as a value outside its rule."""
    ok = ["ensemble.size=3", "model.g_lr=[1e-4,2e-4,4e-4]", "model.betas=[[0.5,0.999],[0,0.9],[0.5,0.9]]"]
    validate(compose_config(*ok, "objective=wgan_gp", "objective.gp_weight=[1,5,10]", run_dir=tmp_path))
    with pytest.raises(ConfigError, match=r"^model\.d_lr=\[0\.0001, 0\.0002\]: must be one value for every member"):
        validate(compose_config("ensemble.size=3", "model.d_lr=[1e-4,2e-4]", run_dir=tmp_path))
    with pytest.raises(ConfigError, match=r"^model\.g_ema=\[0\.9, 1\.0, 0\.99\]: must be "):
        validate(compose_config("ensemble.size=3", "model.g_ema=[0.9,1.0,0.99]", run_dir=tmp_path))
    from hydra.errors import ConfigCompositionException

    with pytest.raises((ConfigError, ConfigCompositionException), match="latent_dim"):  # typed by its schema
        validate(compose_config("model.latent_dim=[2,4]", run_dir=tmp_path))
    assert not any(tmp_path.iterdir())
