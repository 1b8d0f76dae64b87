"""One table (and two figures) for a whole sweep: `python -m curvegan.report SWEEP_DIR`.

Every job dir under SWEEP_DIR with a metrics.json contributes one row per ensemble member: the job's overrides
and the member's final metrics. Jobs that differ only in `seed` are one setting, and every member of every
seed counts towards it. The table gives, per setting, how many members it has (n), how many diverged or
collapsed, and for each metric the median over its members with a bootstrap 95% interval, the 90th percentile
towards worse and the worst; settings are ordered best first by the median of the first metric (by default the
family's `objective`, what sweeps minimise). A verdict compares two settings (`--versus A B`, by default the
best two): the difference of their medians with its 95% interval, and the probability that a member of the
first beats a member of the second. Printed as markdown; every member's row also goes to SWEEP_DIR/report.csv.
report.png shows each setting's members as dots, report_history.png the median member through training.

Which way a metric is better comes from its declaration, recorded in each metrics.json. A job that did not
finish (no metrics.json) or whose metrics.json cannot be trusted (not strict JSON, not a run's record, a value
that is not a finite number where one must be) is left out and named, with the reason.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from pathlib import Path

from curvegan.runs import read_jobs
from curvegan.verdicts import as_array, beats, difference_interval, median_interval, towards_worse

# Overrides that change how a job runs, not what it trains: they do not make a setting.
SETTINGS_LISTED = 4  # in the refusal of a --versus setting the runs lack
NOT_A_SETTING = ("cpu_threads", "logger", "callbacks", "hydra", "trainer.enable_progress_bar", "evaluation")


def varying_keys(jobs: list[dict]) -> list[str]:
    """The override keys whose value is not the same in every job (those that make settings)."""
    keys = sorted({k for job in jobs for k in job["overrides"] if not k.startswith(NOT_A_SETTING)})
    return [k for k in keys if len({job["overrides"].get(k) for job in jobs}) > 1]


def setting_of(job: dict, keys: list[str]) -> str:
    """What a job tried (its overrides of `keys`), less its seed: the jobs of one setting differ only in seed."""
    return " ".join(f"{k}={job['overrides'][k]}" for k in keys if k in job["overrides"]) or "(all the same)"


def member_seed(job: dict, member: dict):
    """The seed a member trained from: the job's, or with one seed per member (seed=[…]) its own."""
    seed = job["seed"]
    if isinstance(seed, list):
        k = member.get("member")
        return seed[k] if isinstance(k, int) and 0 <= k < len(seed) else ""
    return seed


def member_rows(jobs: list[dict]) -> list[dict]:
    """One row per ensemble member of every job, with the job's setting."""
    varying = [k for k in varying_keys(jobs) if k != "seed"]
    return [
        {"setting": setting_of(job, varying), "job": job["job"], "seed": member_seed(job, member), **member}
        | {"seconds": job.get("seconds")}
        for job in jobs
        for member in job["members"]
    ]


def declarations(jobs: list[dict]) -> dict[str, dict]:
    """Every metric the jobs hold, with its declaration, in the order the jobs first list them."""
    declared: dict[str, dict] = {}
    for job in jobs:
        for name, declaration in job["declarations"].items():
            declared.setdefault(name, declaration)
    return declared


def groups(rows: list[dict]) -> dict[str, list[dict]]:
    by_setting: dict[str, list[dict]] = {}
    for row in rows:
        by_setting.setdefault(row["setting"], []).append(row)
    return by_setting


def kept_values(members: list[dict], metric: str) -> list:
    return [r.get(metric) for r in members if not r.get("diverged")]


def summary_table(rows: list[dict], metrics: list[str], declared: dict) -> tuple[list[str], list[list]]:
    """Per setting, over its members that did not diverge: for each metric with a direction, the median with
    its bootstrap 95% interval, the 90th percentile towards worse and the worst; for one without (a spread),
    the median. Best setting first, by the median of metrics[0]. Columns no setting has a value for are left out."""
    header = ["setting", "n", "diverged", "collapsed"]
    for m in metrics:
        header += [f"{m} median [95% CI]", f"{m} 90th", f"{m} worst"] if declared[m]["better"] else [f"{m} median"]
    header.append("seconds")
    table, order = [], []
    for setting, members in groups(rows).items():
        kept = [r for r in members if not r.get("diverged")]
        line = [setting, len(members), len(members) - len(kept), sum(bool(r.get("collapsed")) for r in kept)]
        for m in metrics:
            better = declared[m]["better"]
            values = kept_values(members, m)
            if not values or all(v is None for v in values):
                line += [None] * (3 if better else 1)
                continue
            array = list(as_array(values, better))
            median, low, high = median_interval(values, better)
            if better:
                worst = max(array) if better == "lower" else min(array)
                line += [(median, low, high), towards_worse(array, 90, better), worst]
            else:
                line.append(statistics.median(array))
        seconds = {r["job"]: r["seconds"] for r in members if isinstance(r.get("seconds"), int | float)}
        line.append(statistics.median(seconds.values()) if seconds else None)
        table.append(line)
        first = line[4]
        key = first[0] if isinstance(first, tuple) else first
        sign = -1 if declared[metrics[0]]["better"] == "higher" else 1
        order.append(math.inf if key is None or math.isnan(key) else sign * key)
    table = [line for _, line in sorted(zip(order, table, strict=True), key=lambda pair: pair[0])]
    keep = [i for i in range(len(header)) if i < 4 or any(line[i] is not None for line in table)]
    return [header[i] for i in keep], [[line[i] for i in keep] for line in table]


def verdict(rows: list[dict], a: str, b: str, metrics: list[str], declared: dict) -> str:
    """Setting a against setting b, metric by metric: the difference of medians with its 95% interval, and
    the probability that a member of a beats a member of b."""
    settings = groups(rows)
    lines = [
        f"**{a}** (n={len(settings[a])}) against **{b}** (n={len(settings[b])}):\n",
        "| metric | better | median a − median b [95% CI] | P(a member of a beats one of b) |",
        "| --- | --- | --- | --- |",
    ]
    for m in metrics:
        better = declared[m]["better"]
        x, y = kept_values(settings[a], m), kept_values(settings[b], m)
        if not better or not x or not y:
            continue
        diff, low, high = difference_interval(x, y, better)
        lines.append(f"| {m} | {better} | {cell((diff, low, high))} | {beats(x, y, better):.2f} |")
    return "\n".join(lines)


def cell(v) -> str:
    if isinstance(v, tuple):
        return f"{cell(v[0])} [{cell(v[1])}, {cell(v[2])}]"
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return "undefined"
        return f"{v:.4f}" if abs(v) < 1000 else f"{v:.4g}"
    return "" if v is None else str(v)


def markdown(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def member_table(rows: list[dict], metrics: list[str]) -> tuple[list[str], list[list]]:
    header = ["setting", "job", "seed", "member", *metrics, "collapsed", "diverged"]
    return header, [[r.get(k) for k in header] for r in rows]


def refuse(message: str) -> None:
    """A refusal: one line, exit status 2 (as every curvegan command line refuses)."""
    print(f"curvegan.report: {message}", file=sys.stderr)
    sys.exit(2)


def writable_folder(out: Path) -> str | None:
    """Why report.csv and the figures cannot be written into `out` (tried: made, a file written and removed), or
    None."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".curvegan-"):
            pass
    except OSError as err:
        return err.strerror or type(err).__name__
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curvegan.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun dir (multirun/DATE/TIME), or a run dir")
    parser.add_argument("--out", type=Path, help="where report.csv and the figures go (default: the sweep dir)")
    parser.add_argument(
        "--metrics",
        help="comma-separated metrics for the table (ordered best first by the first of them), the verdict and"
        " report.png (default: objective, then every headline metric the jobs hold)",
    )
    parser.add_argument("--versus", nargs=2, metavar=("A", "B"), help="the verdict's two settings (default: best two)")
    parser.add_argument("--summary", action="store_true", help="leave out the table of every member")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        refuse(f"{args.sweep_dir}: no such directory")
    jobs, left_out = read_jobs(args.sweep_dir)
    if not jobs:
        reasons = "".join(f"; {p.relative_to(args.sweep_dir)}: {why}" for p, why in left_out[:3])
        refuse(f"{args.sweep_dir}: no finished jobs (no */metrics.json to trust){reasons}")
    families = sorted({job["family"] for job in jobs})
    if len(families) > 1:
        refuse(
            f"{args.sweep_dir}: its jobs train different data families ({', '.join(families)}), whose metrics mean"
            " different things: report each family's jobs on their own (give the folder of one family's jobs)"
        )
    declared = declarations(jobs)
    headline = [name for name, d in declared.items() if d.get("headline")]
    metrics = args.metrics.split(",") if args.metrics else ["objective", *headline]
    for metric in metrics:
        if metric not in declared:
            refuse(f"--metrics {metric}: not a metric of these runs (one of {', '.join(declared)})")
    rows = member_rows(jobs)
    settings = list(groups(rows))
    for name in args.versus or []:
        if name not in settings:
            listed = "; ".join(settings[:SETTINGS_LISTED])
            if len(settings) > SETTINGS_LISTED:  # one line a terminal can show: the table's `setting` column has all
                listed += f"; … {len(settings) - SETTINGS_LISTED} more, as the table's setting column names them"
            refuse(f"--versus {name}: not a setting of these runs (one of {listed})")
    out = args.out or args.sweep_dir
    if (why := writable_folder(out)) is not None:
        refuse(f"--out {out}: cannot be written ({why})")

    header, table = summary_table(rows, metrics, declared)
    print(f"## {len(jobs)} finished jobs, {len(rows)} members in {args.sweep_dir}\n")
    first = jobs[0]["overrides"]
    common = sorted(f"{k}={v}" for k, v in first.items() if all(job["overrides"].get(k) == v for job in jobs))
    if common:
        print(f"Every job: {' '.join(common)}\n")
    print(f"Per setting, over all its members (seeds × ensemble members), best first by the median {metrics[0]}:\n")
    print(markdown(header, table))
    if len(settings) > 1:
        a, b = args.versus or (table[0][0], table[1][0])
        print("\n## Verdict\n\n" + verdict(rows, a, b, metrics, declared))
    member_header, member_lines = member_table(rows, list(declared))
    with open(out / "report.csv", "w", newline="") as f:
        csv.writer(f).writerows([member_header, *member_lines])
    if not args.summary:
        print("\n## Every member\n")
        print(markdown(*member_table(rows, [m for m in declared if m in metrics or m in headline])))
    if left_out:
        print(f"\n{len(left_out)} left out:")
        for path, why in left_out:
            print(f"- {path.relative_to(args.sweep_dir)}: {why}")
    from curvegan.report_plots import coverage_figure, history_figure, strip_figure

    strip_figure(
        rows, [line[0] for line in table], metrics[:3] if args.metrics else metrics[1:3], declared, out / "report.png"
    )
    varying = [k for k in varying_keys(jobs) if k != "seed"]
    by_setting: dict[str, list[dict]] = {}
    for job in jobs:
        if job.get("history"):
            by_setting.setdefault(setting_of(job, varying), []).append(job)
    history_figure(by_setting, [m for m in headline if declared[m]["better"]][:2], out / "report_history.png")
    written = [out / "report.csv", out / "report.png", out / "report_history.png"]
    covered = {}  # per setting, its median job's coverage map (a family of modes)
    for setting in [line[0] for line in table]:
        mapped = [j for j in jobs if setting_of(j, varying) == setting and j.get("mode_coverage")]
        if mapped:
            covered[setting] = sorted(mapped, key=lambda j: j.get("objective") or 0.0)[(len(mapped) - 1) // 2]
    if covered:
        coverage_figure(covered, out / "report_coverage.png")
        written.append(out / "report_coverage.png")
    print(f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]}", file=sys.stderr)


if __name__ == "__main__":
    main()
