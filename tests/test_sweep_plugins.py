"""A sweep plugin's setting that its plugin cannot use (joblib's n_jobs=0, a SLURM job of 0 CPUs or nodes,
Optuna's n_trials=0 or a direction it does not know) is refused in one line that names it, before the sweep
writes anything (curvegan.sweep_plugins); a submission sbatch refuses ends in one line too."""

import copy
import functools
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from curvegan import sweep_plugins
from curvegan.errors import ConfigError

for plugin in ("hydra_joblib_launcher", "hydra_optuna_sweeper", "hydra_submitit_launcher"):
    pytest.importorskip(f"hydra_plugins.{plugin}", reason="needs the [sweep] extra")

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# the command-line choice that puts each plugin in the sweep
CHOSEN_BY = {
    sweep_plugins.JOBLIB: "hydra/launcher=joblib",
    f"{sweep_plugins.SUBMITIT}.SlurmLauncher": "hydra/launcher=slurm",
    f"{sweep_plugins.SUBMITIT}.LocalLauncher": "hydra/launcher=submitit_local",
    sweep_plugins.PACKED_SLURM: "hydra/launcher=packed_slurm",
    sweep_plugins.OPTUNA: "hparams_search=optuna",
}
CASES = [
    pytest.param(part, target, name, rule, id=f"{CHOSEN_BY[target]} {name}")
    for part, by_target in sweep_plugins.RULES.items()
    for target, rules in by_target.items()
    for name, rule in rules.items()
]


@functools.cache
def shipped(choice: str):
    """The hydra node of the train config with this choice of launcher or sweeper, as curvegan ships it."""
    import curvegan.train  # noqa: F401 (puts the packed launchers where Hydra finds them)
    from curvegan.schemas import register_schemas

    register_schemas()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose("train", overrides=[choice], return_hydra_config=True).hydra


def with_setting(choice: str, part: str, name: str, value):
    node = copy.deepcopy(shipped(choice))
    node[part][name] = value
    return node


@pytest.mark.parametrize("part, target, name, rule", CASES)
def test_each_setting_a_sweep_plugin_cannot_use_is_refused_naming_its_key(part, target, name, rule):
    assert shipped(CHOSEN_BY[target])[part]._target_ == target  # the table names the plugin the choice puts there
    sweep_plugins.check(shipped(CHOSEN_BY[target]))  # what curvegan ships passes
    with pytest.raises(ConfigError, match=rf"^hydra\.{part}\.{name}={rule.bad}: must be "):
        sweep_plugins.check(with_setting(CHOSEN_BY[target], part, name, rule.bad))


def test_optunas_direction_is_one_of_minimize_and_maximize_for_the_one_number_a_run_returns():
    for good in ("minimize", "maximize"):
        sweep_plugins.check(with_setting("hparams_search=optuna", "sweeper", "direction", good))
    for bad, shown in (
        ("MINIMIZE", "MINIMIZE"),
        (["minimize", "maximize"], r"\['minimize', 'maximize'\]"),
        (None, "null"),
    ):
        with pytest.raises(ConfigError, match=rf"^hydra\.sweeper\.direction={shown}: must be minimize or maximize$"):
            sweep_plugins.check(with_setting("hparams_search=optuna", "sweeper", "direction", bad))


def test_only_sbatchs_refusal_is_read_as_slurms_and_its_last_line_is_the_reason():
    from submitit.core.utils import FailedJobError

    said = "sbatch: error: invalid partition specified: nosuch\nsbatch: error: Batch job submission failed: x\n"
    assert sweep_plugins.refused_by_slurm(FailedJobError(said)) == "sbatch: error: Batch job submission failed: x"
    assert sweep_plugins.refused_by_slurm(FailedJobError("Job (task=0) failed during processing with trace:")) is None
    assert sweep_plugins.refused_by_slurm(ValueError(said)) is None


def refused(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess:
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "curvegan.train", "-m", "seed=0,1", *overrides, f"hydra.sweep.dir={sweep}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and not sweep.exists(), result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    return result


# one plugin in the default run (each case is a Hydra process, 5 s); the others with the slow tests
@pytest.mark.parametrize(
    "overrides",
    [
        ["hydra/launcher=joblib", "hydra.launcher.n_jobs=0"],
        pytest.param(["hparams_search=optuna", "hydra.sweeper.n_trials=0"], marks=pytest.mark.slow),
        pytest.param(["hydra/launcher=slurm", "hydra.launcher.timeout_min=-1"], marks=pytest.mark.slow),
        pytest.param(["hydra/launcher=packed_slurm", "hydra.launcher.mem_gb=-1"], marks=pytest.mark.slow),
    ],
    ids=lambda o: o[0],
)
def test_the_command_line_refuses_a_sweep_plugins_setting_before_writing_anything(tmp_path, overrides):
    result = refused(tmp_path, *overrides)
    assert result.stderr.startswith(f"curvegan.train: {overrides[-1]}: must be ")
