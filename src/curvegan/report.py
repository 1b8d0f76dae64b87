"""One table (and two figures) for a whole sweep: `python -m curvegan.report SWEEP_DIR`.

Every job dir under SWEEP_DIR with a metrics.json contributes one row per ensemble member: the job's overrides
and the member's final metrics. Jobs that differ only in `seed` are one setting, and every member of every
seed counts towards it: the summary gives, per setting, the median, the 90th percentile and the worst of each
metric over all its members, and how many members diverged or collapsed (counted apart). Printed as markdown;
every member's row also goes to SWEEP_DIR/report.csv. report.png shows each setting's members as dots (a strip
plot) with its median and 90th percentile; report_history.png the median over a setting's members through
training. Jobs that did not finish (no metrics.json) are counted and named.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from pathlib import Path

from curvegan.metrics import WORST_IS_LARGEST

MEMBER_METRICS = ("shape_rmse", "a_w1", "a_std", "objective")
# Metrics of the variants and of the mode test bed, reported where a sweep has them.
EXTRA_METRICS = ("a_rmse", "code_corr", "hq_fraction", "modes_captured", "mode_kl")


def read_jobs(sweep_dir: Path) -> tuple[list[dict], list[Path]]:
    """(finished jobs, unfinished job dirs) under a sweep dir. Each job: its dir, overrides and metrics."""
    jobs, unfinished = [], []
    for overrides_file in sorted(sweep_dir.rglob(".hydra/overrides.yaml")):
        job_dir = overrides_file.parent.parent
        if not (job_dir / "metrics.json").exists():
            unfinished.append(job_dir)
            continue
        overrides = dict(parse_override(line) for line in overrides_file.read_text().splitlines() if line.strip())
        metrics = json.loads((job_dir / "metrics.json").read_text())
        jobs.append({"job": str(job_dir.relative_to(sweep_dir)), "overrides": overrides, **metrics})
    return jobs, unfinished


def parse_override(line: str) -> tuple[str, str]:
    """A line of Hydra's overrides.yaml ("- key=value") as (key, value)."""
    key, _, value = line.removeprefix("- ").partition("=")
    return key.lstrip("+~"), value


# Overrides that change how a job runs, not what it trains: they do not make a setting.
NOT_A_SETTING = ("cpu_threads", "logger", "callbacks.", "hydra", "trainer.enable_progress_bar")


def varying_keys(jobs: list[dict]) -> list[str]:
    """The override keys whose value is not the same in every job (those that make settings)."""
    keys = sorted({k for job in jobs for k in job["overrides"] if not k.startswith(NOT_A_SETTING)})
    return [k for k in keys if len({job["overrides"].get(k) for job in jobs}) > 1]


def setting_of(job: dict, keys: list[str]) -> str:
    """What a job tried (its overrides of `keys`), less its seed: the jobs of one setting differ only in seed."""
    return " ".join(f"{k}={job['overrides'][k]}" for k in keys if k in job["overrides"]) or "(all the same)"


def member_rows(jobs: list[dict]) -> list[dict]:
    """One row per ensemble member of every job, with the job's setting (a metrics.json from before ensembles
    holds one member: its top-level numbers)."""
    varying = [k for k in varying_keys(jobs) if k != "seed"]
    rows = []
    for job in jobs:
        members = job.get("members") or [{"member": 0, **{m: job[m] for m in MEMBER_METRICS}, "diverged": False}]
        for member in members:
            rows.append(
                {
                    "setting": setting_of(job, varying),
                    "job": job["job"],
                    "seed": job["overrides"].get("seed", ""),
                    **member,
                    "seconds": job.get("seconds"),
                }
            )
    return rows


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear between order statistics, as numpy's default); NaN (undefined) sorts last."""
    ordered = sorted(values, key=lambda v: math.inf if v is None or math.isnan(v) else v)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    a, b = (math.inf if ordered[i] is None else ordered[i] for i in (low, high))
    return a + (b - a) * (position - low) if a != b else a


def metrics_present(rows: list[dict]) -> list[str]:
    return [m for m in ("shape_rmse", "a_w1", *EXTRA_METRICS) if any(m in row for row in rows)]


def summary_table(rows: list[dict], metrics: list[str] | None = None) -> tuple[list[str], list[list]]:
    """Per setting, over all its members that did not diverge: median, 90th percentile and worst of each metric
    (for a metric where smaller is worse, the 10th percentile and the smallest), median a_std and seconds.
    Settings are ordered best first: by the median of the first of `metrics`, else of shape_rmse + a_w1."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["setting"], []).append(row)
    ordered_by = metrics[0] if metrics else None
    metrics = metrics or metrics_present(rows)
    header = ["setting", "members", "diverged", "collapsed"]
    for m in metrics:
        tail = "90th" if WORST_IS_LARGEST[m] else "10th"
        header += [f"{m} median", f"{m} {tail}", f"{m} worst"]
    header += ["a_std median", "seconds median"]
    table = []
    for setting, members in groups.items():
        kept = [r for r in members if not r.get("diverged")]
        collapsed = sum(r["collapsed"] for r in kept) if all("collapsed" in r for r in kept) else None
        line = [setting, len(members), len(members) - len(kept), collapsed]
        for m in metrics:
            values = [r.get(m) for r in kept]
            largest = WORST_IS_LARGEST[m]
            if not largest:  # smaller is worse: flip, take the upper tail, flip back
                values = [None if v is None else -v for v in values]
            stats = [percentile(values, 50), percentile(values, 90), percentile(values, 100)]
            line += stats if largest else [-s for s in stats]
        line.append(statistics.median(r["a_std"] for r in kept) if kept else math.nan)
        seconds = {r["job"]: r["seconds"] for r in members if r["seconds"] is not None}
        line.append(statistics.median(seconds.values()) if seconds else math.nan)
        table.append(line)
    if ordered_by is None:
        table.sort(key=lambda line: line[header.index("shape_rmse median")] + line[header.index("a_w1 median")])
    else:
        sign = 1 if WORST_IS_LARGEST.get(ordered_by, True) else -1
        table.sort(key=lambda line: sign * line[header.index(f"{ordered_by} median")])
    return header, table


def markdown(header: list[str], rows: list[list]) -> str:
    def cell(v):
        if isinstance(v, float):
            return "null" if not math.isfinite(v) else f"{v:.4f}"
        return "" if v is None else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def member_table(rows: list[dict]) -> tuple[list[str], list[list]]:
    metrics = ["shape_rmse", "a_w1", "a_std", *[m for m in EXTRA_METRICS if any(m in r for r in rows)]]
    header = ["setting", "job", "seed", "member", *metrics, "collapsed", "diverged"]
    return header, [[r.get(k) for k in header] for r in rows]


LOG_SCALE = {"shape_rmse", "a_w1", "a_rmse", "mode_kl", "objective"}  # spread over decades


def strip_figure(rows: list[dict], table: list[list], metrics: list[str], path: Path) -> None:
    """Each setting's members as dots, one panel per metric, with the median (black bar) and the 90th percentile
    towards worse (red tick) of each: the whole distribution at a glance, best setting on top."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    settings = [line[0] for line in table]
    fig = Figure(figsize=(6 * len(metrics), 1.4 + 0.45 * len(settings)), dpi=100)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    for ax, metric in zip(axes, metrics, strict=True):
        largest = WORST_IS_LARGEST.get(metric, True)
        for y, setting in enumerate(settings):
            values = [r[metric] for r in rows if r["setting"] == setting and not r.get("diverged")]
            values = [v for v in values if v is not None and math.isfinite(v)]
            if not values:
                continue
            jitter = [((i * 0.618) % 1 - 0.5) * 0.5 for i in range(len(values))]
            ax.scatter(values, [y + j for j in jitter], s=9, alpha=0.6, color="tab:blue", lw=0)
            ax.plot([percentile(values, 50)] * 2, [y - 0.35, y + 0.35], color="black", lw=2)
            tail = percentile(values, 90) if largest else -percentile([-v for v in values], 90)
            ax.plot([tail] * 2, [y - 0.25, y + 0.25], color="tab:red", lw=1.5)
        if metric in LOG_SCALE:
            ax.set_xscale("log")
        ax.set_title(metric + (" (log scale)" if metric in LOG_SCALE else ""), fontsize="medium")
        ax.grid(alpha=0.3, axis="x")
    axes[0].set_yticks(range(len(settings)), [s if len(s) < 60 else s[:57] + "…" for s in settings])
    axes[0].invert_yaxis()
    fig.suptitle("Each dot a member; black: the median; red: the 90th percentile towards worse", fontsize="medium")
    fig.tight_layout()
    fig.savefig(path)


def history_figure(jobs: list[dict], path: Path) -> None:
    """shape_rmse and a_w1 over training: per setting, the median over its jobs of each job's median member."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    varying = [k for k in varying_keys(jobs) if k != "seed"]
    groups: dict[str, list[dict]] = {}
    for job in jobs:
        if job.get("history"):
            groups.setdefault(setting_of(job, varying), []).append(job)
    fig = Figure(figsize=(11, 4.2), dpi=90)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for setting, members in sorted(groups.items()):
        length = min(len(j["history"]) for j in members)
        steps = [members[0]["history"][i]["step"] for i in range(length)]
        for ax, metric in zip(axes, ("shape_rmse", "a_w1"), strict=True):
            values = [statistics.median(j["history"][i][metric] for j in members) for i in range(length)]
            ax.plot(steps, values, marker=".", label=setting)
    for ax, metric in zip(axes, ("shape_rmse", "a_w1"), strict=True):
        ax.set_yscale("log")
        ax.set_xlabel("G updates")
        ax.set_title(f"{metric} (median member)", fontsize="medium")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="x-small", loc="upper right")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curvegan.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun dir (multirun/DATE/TIME), or a run dir")
    parser.add_argument("--out", type=Path, help="where report.csv and the figures go (default: the sweep dir)")
    parser.add_argument(
        "--metrics",
        help="comma-separated: the metrics of the table per setting (which is ordered by the first) and of"
        " report.png (default: every metric in the table, shape_rmse and a_w1 in the figure)",
    )
    parser.add_argument("--summary", action="store_true", help="print only the table per setting")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        sys.exit(f"curvegan.report: {args.sweep_dir}: no such directory")
    jobs, unfinished = read_jobs(args.sweep_dir)
    if not jobs:
        sys.exit(f"curvegan.report: {args.sweep_dir}: no finished jobs (no */metrics.json)")
    out = args.out or args.sweep_dir
    out.mkdir(parents=True, exist_ok=True)

    rows = member_rows(jobs)
    known = sorted({k for row in rows for k in row} & {*MEMBER_METRICS, *EXTRA_METRICS})
    chosen = args.metrics.split(",") if args.metrics else None
    for metric in chosen or []:
        if metric not in known:
            sys.exit(f"curvegan.report: --metrics {metric}: not a metric of these runs (one of {', '.join(known)})")
    header, table = summary_table(rows, chosen)
    print(f"## {len(jobs)} finished jobs, {len(rows)} members in {args.sweep_dir}\n")
    first = jobs[0]["overrides"]
    common = sorted(f"{k}={v}" for k, v in first.items() if all(job["overrides"].get(k) == v for job in jobs))
    if common:
        print(f"Every job: {' '.join(common)}\n")
    print("Per setting, over all its members (seeds × ensemble members):\n")
    print(markdown(header, table))
    member_header, member_lines = member_table(rows)
    with open(out / "report.csv", "w", newline="") as f:
        csv.writer(f).writerows([member_header, *member_lines])
    if not args.summary:
        print("\n## Every member\n")
        print(markdown(member_header, member_lines))
    if unfinished:
        print(f"\n{len(unfinished)} unfinished: {', '.join(str(p.relative_to(args.sweep_dir)) for p in unfinished)}")
    strip_figure(rows, table, chosen or ["shape_rmse", "a_w1"], out / "report.png")
    history_figure(jobs, out / "report_history.png")
    print(f"wrote {out / 'report.csv'}, {out / 'report.png'} and {out / 'report_history.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
