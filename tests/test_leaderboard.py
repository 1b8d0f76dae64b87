"""The leaderboard's protocol (benchmarks/leaderboard.py): its search composes for every idea and family, its budget
curve is the exact expectation of resampling the search, and a small board runs end to end."""

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import compose_config
from curvegan.config import validate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import leaderboard  # noqa: E402

# two families in the default run (each composes every idea's search, 4 s); the others with the slow tests
DEFAULT_RUN_FAMILIES = ("quadratic", "ring")


@pytest.mark.parametrize(
    "family",
    [
        f if f in DEFAULT_RUN_FAMILIES else pytest.param(f, marks=pytest.mark.slow)
        for f in sorted(leaderboard.TEST_BEDS)
    ],
)
def test_every_ideas_search_is_a_valid_config_on_every_family(family, tmp_path):
    for idea in leaderboard.IDEAS:
        settings = leaderboard.settings_of(idea, family, 3)
        overrides = [*leaderboard.TEST_BEDS[family], *idea.overrides, "ensemble.size=6"]
        overrides += leaderboard.overrides_of(idea, settings, 2)
        validate(
            compose_config(*overrides, run_dir=tmp_path)
        )  # every list as long as the ensemble, every value allowed
        best = leaderboard.config_values(idea, settings[0])
        fresh = [*leaderboard.TEST_BEDS[family], *idea.overrides, "ensemble.size=4"]
        validate(compose_config(*fresh, *[f"{k}={leaderboard.shown(v)}" for k, v in best.items()], run_dir=tmp_path))


def test_the_search_is_the_same_every_time_and_differs_between_ideas():
    bce, hinge = leaderboard.IDEAS[0], leaderboard.IDEAS[3]
    assert leaderboard.settings_of(bce, "ring", 4) == leaderboard.settings_of(bce, "ring", 4)
    assert leaderboard.settings_of(bce, "ring", 4) != leaderboard.settings_of(hinge, "ring", 4)
    for setting in leaderboard.settings_of(bce, "ring", 50):
        assert 5e-5 <= setting["model.g_lr"] <= 2e-3 and 0 <= setting["beta1"] <= 0.9


def test_the_budget_curve_is_the_mean_best_over_every_subset_of_k_settings():
    medians = [0.9, 0.3, 0.5, 0.7, 0.4]
    curve = leaderboard.expected_best(medians)
    for k in range(1, 6):
        subsets = list(itertools.combinations(medians, k))
        assert curve[k - 1] == pytest.approx(sum(min(s) for s in subsets) / len(subsets))
    assert curve[0] == pytest.approx(sum(medians) / 5) and curve[-1] == min(medians)


@pytest.mark.slow
def test_a_small_board_runs_end_to_end(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    command = [sys.executable, str(ROOT / "benchmarks" / "leaderboard.py"), "--settings", "2", "--seeds", "2"]
    command += ["--fresh", "4", "--ideas", "bce,r3gan,wgan_gp", "--families", "quadratic,ring", "--out", str(tmp_path)]
    command += ["--docs", str(docs), "--extra", "data.batches_per_epoch=20 trainer.max_epochs=2"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    board = json.loads((tmp_path / "board.json").read_text())
    assert len(board["cells"]) == 6 and not [c for c in board["cells"].values() if "failed" in c]
    text = (docs / "leaderboard.md").read_text()
    assert "R3GAN" in text and "P(beats)" in text
    assert (docs / "leaderboard.png").is_file() and (docs / "leaderboard_budget.png").is_file()
