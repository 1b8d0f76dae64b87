"""curvegan.report over a sweep: ordered and with the columns its help says, each setting's median with a bootstrap
interval and its 90th percentile, a verdict between two settings, and jobs it cannot trust left out and named."""

import json
import math
import re
import statistics
import subprocess
import sys

import numpy as np
import pytest

from curvegan.metrics import declarations
from curvegan.registry import known_metrics as known
from curvegan.report import main as report
from curvegan.verdicts import beats, difference_interval, median_interval


def job(sweep, number, overrides, members, names=("shape_rmse", "a_w1", "a_std", "objective")):
    """A job dir as a sweep leaves it: .hydra/overrides.yaml and a metrics.json of `members` (dicts of values)."""
    known()
    folder = sweep / str(number)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    rows = [{"member": i, **m, "collapsed": False, "diverged": False} for i, m in enumerate(members)]
    metrics = {"members": rows, "declarations": declarations(names), "seconds": 1.0, "history": []}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def members(shape, a_w1):
    return [{"shape_rmse": s, "a_w1": w, "a_std": 0.28, "objective": s + w} for s, w in zip(shape, a_w1, strict=True)]


@pytest.fixture
def sweep(tmp_path):
    rng = np.random.default_rng(0)
    worse = members(rng.uniform(0.1, 0.2, 8), rng.uniform(0.01, 0.02, 8))
    better = members(rng.uniform(0.01, 0.02, 8), rng.uniform(0.05, 0.09, 8))
    job(tmp_path, 0, ["objective=bce", "seed=0"], worse[:4])
    job(tmp_path, 1, ["objective=bce", "seed=1"], worse[4:])
    job(tmp_path, 2, ["objective=lsgan", "seed=0"], better)
    return tmp_path, worse, better


def table(output):
    """The summary table's rows, as lists of cells."""
    lines = [line for line in output.split("## Verdict")[0].splitlines() if line.startswith("|")]
    lines = [line for line in lines if not set(line) <= set("|-: ")]  # not the separator row
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return header, [[c.strip() for c in line.strip("|").split("|")] for line in lines[1:]]


def test_settings_are_ordered_by_the_median_objective_unless_metrics_say_otherwise(sweep, capsys):
    folder, worse, better = sweep
    report([str(folder), "--summary", "--out", str(folder / "out")])
    header, rows = table(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["objective=lsgan", "objective=bce"]  # by the objective, as --help says
    assert header[:4] == ["setting", "n", "diverged", "collapsed"] and [r[1] for r in rows] == ["8", "8"]
    report([str(folder), "--summary", "--metrics", "a_w1", "--out", str(folder / "out")])
    header, rows = table(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["objective=bce", "objective=lsgan"]  # by the first of --metrics
    assert header[4:7] == ["a_w1 median [95% CI]", "a_w1 90th", "a_w1 worst"]


def test_the_90th_percentile_and_the_worst_are_those_of_the_members(sweep, capsys):
    folder, worse, _ = sweep
    report([str(folder), "--summary", "--metrics", "shape_rmse", "--out", str(folder / "out")])
    header, rows = table(capsys.readouterr().out)
    bce = next(r for r in rows if r[0] == "objective=bce")
    values = [m["shape_rmse"] for m in worse]
    median, low, high = (float(x) for x in re.findall(r"[-\d.]+", bce[4]))
    assert median == pytest.approx(np.median(values), abs=1e-4) and low <= median <= high
    assert float(bce[5]) == pytest.approx(np.percentile(values, 90), abs=1e-4)
    assert float(bce[5]) > median + 1e-3  # not the median
    assert float(bce[6]) == pytest.approx(max(values), abs=1e-4)


def test_only_the_columns_that_have_values_and_a_verdict_between_the_best_two(tmp_path, capsys):
    rng = np.random.default_rng(1)
    job(tmp_path, 0, ["model=mlp"], members(rng.uniform(0.1, 0.2, 5), rng.uniform(0.1, 0.2, 5)))
    cgan = [{**m, "a_rmse": 0.05} for m in members(rng.uniform(0.1, 0.2, 5), rng.uniform(0.1, 0.2, 5))]
    job(tmp_path, 1, ["model=cgan"], cgan, names=("shape_rmse", "a_w1", "a_std", "objective", "a_rmse"))
    report([str(tmp_path), "--summary", "--out", str(tmp_path / "out")])
    output = capsys.readouterr().out
    header, rows = table(output)
    assert "a_rmse median [95% CI]" in header  # the cGAN's own metric, where the mixed sweep has it
    assert not any(h.startswith(("hq_fraction", "code_corr", "frechet")) for h in header)  # none has these
    assert "P(a member of a beats one of b)" in output and re.search(r"\| objective \| lower \| [-\d.]+ \[", output)


def test_a_job_whose_files_cannot_be_trusted_is_left_out_and_named_and_the_rest_reported(sweep, capsys):
    folder, worse, better = sweep
    (folder / "3" / ".hydra").mkdir(parents=True)
    (folder / "3" / ".hydra" / "overrides.yaml").write_text("- objective=hinge\n")
    (folder / "3" / "metrics.json").write_text('{"members": [{"shape_rmse": 0.1')  # torn
    edited = job(folder, 4, ["objective=minimax"], members([0.1], [0.1]))
    text = (edited / "metrics.json").read_text().replace('"shape_rmse": 0.1', '"shape_rmse": "0.1"')
    (edited / "metrics.json").write_text(text)  # hand-edited: a string where a number must be
    (folder / "5" / ".hydra").mkdir(parents=True)
    (folder / "5" / ".hydra" / "overrides.yaml").write_text("- objective=wgan_gp\n")  # unfinished
    report([str(folder), "--summary", "--out", str(folder / "out")])
    output = capsys.readouterr().out
    header, rows = table(output)
    assert sorted(r[0] for r in rows) == ["objective=bce", "objective=lsgan"]
    assert "3 left out:" in output
    assert "- 3: metrics.json is not readable JSON" in output and "- 4: member 0: shape_rmse='0.1' is not" in output
    assert "- 5: unfinished" in output


def test_bootstrap_intervals_and_the_probability_of_beating():
    rng = np.random.default_rng(2)
    a, b = list(rng.normal(0.0, 1.0, 64)), list(rng.normal(1.0, 1.0, 64))
    median, low, high = median_interval(a, "lower")
    assert low < median < high and high - low < 1.0
    diff, low, high = difference_interval(a, b, "lower")
    assert low < diff < high < 0  # a is clearly lower
    assert beats(a, b, "lower") > 0.7 and beats(a, b, "lower") + beats(b, a, "lower") == pytest.approx(1.0)
    assert beats([1.0], [1.0], "lower") == 0.5 and math.isinf(median_interval([None], "lower")[0])


def test_a_verdict_is_the_same_every_time_and_an_undefined_value_counts_as_the_worst():
    values = list(np.random.default_rng(3).normal(0.0, 1.0, 32))
    assert median_interval(values, "lower") == median_interval(values, "lower")  # the report does not move
    assert difference_interval(values, values[::-1], "lower") == difference_interval(values, values[::-1], "lower")
    # mode_kl undefined (no high-quality sample): worse than any value, whichever way the metric is better
    assert beats([None], [5.0], "lower") == 0.0 and beats([None], [-5.0], "higher") == 0.0
    assert beats([None], [None], "higher") == 0.5


def report_command(*args):
    return subprocess.run([sys.executable, "-m", "curvegan.report", *map(str, args)], capture_output=True, text=True)


def test_every_refusal_of_the_report_is_one_line_and_exit_status_2(sweep, tmp_path):
    folder, _, _ = sweep
    (tmp_path / "a_file").write_text("x")
    refused = {
        "no such directory": [tmp_path / "missing"],
        "not a metric of these runs": [folder, "--metrics", "nope"],
        "not a setting of these runs": [folder, "--versus", "x", "y"],
        "cannot be written": [folder, "--out", tmp_path / "a_file" / "out"],
    }
    for why, args in refused.items():
        result = report_command(*args)
        assert result.returncode == 2, (why, result.stderr)
        assert result.stderr.count("\n") == 1 and why in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "a_file" / "out").exists()


def test_a_setting_the_runs_lack_is_refused_in_a_line_a_terminal_can_show_however_many_settings_there_are(
    tmp_path, capsys
):
    from curvegan import report

    for k in range(40):  # a search's worth of settings
        job(tmp_path, k, [f"model.g_lr={k + 1}e-5"], members([0.1, 0.2], [0.01, 0.02]))
    with pytest.raises(SystemExit) as stopped:
        report.main([str(tmp_path), "--versus", "model.g_lr=1", "model.g_lr=2e-5"])
    (line,) = capsys.readouterr().err.splitlines()
    assert stopped.value.code == 2 and line.startswith("curvegan.report: --versus model.g_lr=1: not a setting")
    assert line.count("; ") == 4 and "… 36 more" in line and len(line) < 300


@pytest.mark.parametrize(
    "field, bad",
    [
        ("declarations", {"shape_rmse": "lower"}),  # a declaration of the wrong type
        ("declarations", {"shape_rmse": {"better": "sideways"}}),
        ("history", {"epoch": 1}),  # a history that is not a list
        ("history", [{"epoch": 1, "step": "60"}]),
        ("seconds", "fast"),
        ("mode_coverage", {"modes": ["a"], "samples": 10, "epochs": [1], "steps": [5], "shares": [[1.5]]}),
        ("mode_coverage", {"modes": ["a", "b"], "samples": 10, "epochs": [1], "steps": [5], "shares": [[0.5]]}),
        ("mode_coverage", [[0.1, 0.2]]),
    ],
)
def test_a_malformed_field_leaves_its_job_out_named_and_the_rest_reported(sweep, capsys, field, bad):
    folder, _, _ = sweep
    edited = job(folder, 4, ["objective=minimax"], members([0.1], [0.1]))
    metrics = json.loads((edited / "metrics.json").read_text())
    metrics[field] = bad
    (edited / "metrics.json").write_text(json.dumps(metrics))
    report([str(folder), "--summary", "--out", str(folder / "out")])
    output = capsys.readouterr().out
    assert sorted(r[0] for r in table(output)[1]) == ["objective=bce", "objective=lsgan"]
    assert "1 left out:" in output and "- 4: " in output


def test_a_job_whose_files_are_not_utf8_is_left_out_named(sweep, capsys):
    folder, _, _ = sweep
    edited = job(folder, 4, ["objective=minimax"], members([0.1], [0.1]))
    (edited / ".hydra" / "overrides.yaml").write_bytes(b"- objective=\xff\xfe\n")
    report([str(folder), "--summary", "--out", str(folder / "out")])
    assert "- 4: .hydra/overrides.yaml is not readable text" in capsys.readouterr().out


def test_jobs_of_different_families_are_never_ranked_against_each_other(tmp_path):
    job(tmp_path, 0, ["data=quadratic"], members([0.1, 0.2], [0.1, 0.1]))
    job(tmp_path, 1, ["data=ring"], members([0.3, 0.1], [0.2, 0.1]))
    result = report_command(tmp_path, "--summary")
    assert result.returncode == 2 and "different data families (quadratic, ring)" in result.stderr
    assert result.stdout == "" and not (tmp_path / "report.csv").exists()


def test_a_higher_is_better_metric_orders_best_first_and_takes_its_tail_towards_worse(tmp_path, capsys):
    """hq_fraction is better higher: the setting with the higher median comes first, its 90th percentile towards
    worse is the 10th percentile of its values (counted from the top) and its worst is the lowest."""
    names = ("shape_rmse", "a_w1", "a_std", "objective", "hq_fraction")
    rng = np.random.default_rng(5)
    low, high = rng.uniform(0.1, 0.5, 16), rng.uniform(0.6, 0.9, 16)
    for number, (setting, values) in enumerate({"objective=bce": low, "objective=lsgan": high}.items()):
        rows = [{**m, "hq_fraction": v} for m, v in zip(members([0.1] * 16, [0.1] * 16), values, strict=True)]
        job(tmp_path, number, [setting], rows, names=names)
    report([str(tmp_path), "--summary", "--metrics", "hq_fraction", "--out", str(tmp_path / "out")])
    header, rows = table(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["objective=lsgan", "objective=bce"]
    column = {name: header.index(name) for name in ("hq_fraction 90th", "hq_fraction worst")}
    for row, values in zip(rows, (high, low), strict=True):
        assert float(row[column["hq_fraction 90th"]]) == pytest.approx(np.percentile(values, 10), abs=5e-5)
        assert float(row[column["hq_fraction worst"]]) == pytest.approx(values.min(), abs=5e-5)


def test_the_median_interval_is_the_bootstrap_computed_by_hand():
    """2000 resamples of the members with replacement (numpy's generator from seed 0, as verdicts.py draws them),
    each one's median, and the 2.5th and 97.5th of those medians by rank: the interval the report labels 95%."""
    values = list(np.random.default_rng(7).normal(0.0, 1.0, 25))
    picks = np.random.default_rng(0).integers(0, len(values), size=(2000, len(values)))
    medians = sorted(statistics.median(values[i] for i in row) for row in picks)
    by_hand = (medians[round(0.025 * 1999)], medians[round(0.975 * 1999)])
    median, low, high = median_interval(values, "lower")
    assert median == statistics.median(values) and (low, high) == pytest.approx(by_hand, abs=1e-12)


def test_the_median_interval_covers_the_true_median_about_95_percent_of_the_time():
    """Over 300 samples of 41 members from a normal of median 0: a 95% interval that held the true median far less
    often would be narrower than its label."""
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(300):
        _, low, high = median_interval(list(rng.normal(0.0, 1.0, 41)), "lower")
        covered += low <= 0.0 <= high
    assert 0.88 <= covered / 300 <= 0.995


def test_the_member_table_gives_each_jobs_seed_whether_overridden_or_the_default(tmp_path, capsys):
    """A job whose seed was not on the command line ran with its config's: the table says which, not nothing."""
    job(tmp_path, 0, ["objective=bce", "seed=3"], members([0.1], [0.1]))
    default = job(tmp_path, 1, ["objective=lsgan"], members([0.2], [0.2]))
    (default / ".hydra" / "config.yaml").write_text(
        "seed: 0\ndata:\n  _target_: curvegan.families.quadratic.Quadratic\n"
    )
    report([str(tmp_path), "--out", str(tmp_path / "out")])
    rows = [line for line in capsys.readouterr().out.split("## Every member")[1].splitlines() if line.startswith("| ")]
    seeds = {row.split("|")[1].strip(): row.split("|")[3].strip() for row in rows[2:]}  # past the header
    assert seeds == {"objective=bce": "3", "objective=lsgan": "0"}


def test_the_member_table_gives_each_member_the_seed_it_trained_from_and_the_history_draws_a_band(tmp_path):
    """With one seed per member (seed=[…]) each member's row has its own seed; the history figure of an ensemble
    shades the band from its median member to its worst."""
    import csv

    from conftest import TINY

    run = tmp_path / "run"
    argv = [sys.executable, "-m", "curvegan.train", *TINY, "seed=[5,5,9]", "ensemble.size=3", "logger=none"]
    subprocess.run([*argv, "callbacks.monitor.gif_path=null", f"hydra.run.dir={run}"], check=True, capture_output=True)
    report([str(run), "--out", str(tmp_path / "out")])
    rows = list(csv.DictReader((tmp_path / "out" / "report.csv").open()))
    assert [(r["member"], r["seed"]) for r in rows] == [("0", "5"), ("1", "5"), ("2", "9")]
    from PIL import Image

    with Image.open(tmp_path / "out" / "report_history.png") as image:
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
    band = (np.abs(pixels - [210, 225, 238]).max(axis=1) < 12).sum()  # tab:blue at alpha 0.18 over white
    assert band > 500
