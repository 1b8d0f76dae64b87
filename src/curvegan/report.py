"""One table (and a figure) for a whole sweep: `python -m curvegan.report SWEEP_DIR`.

Every job dir under SWEEP_DIR with a metrics.json becomes a row: its overrides and its final metrics. The table
goes to stdout as markdown and to SWEEP_DIR/report.csv; jobs that differ only in `seed` are also summarised
(median and worst of each metric); the figure SWEEP_DIR/report.png shows quality over training, the median
over seeds per setting. Jobs that did not finish (no metrics.json) are counted and named.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

METRICS = ("shape_rmse", "a_w1", "a_std", "objective", "steps", "seconds")


def read_jobs(sweep_dir: Path) -> tuple[list[dict], list[Path]]:
    """(finished jobs, unfinished job dirs) under a sweep dir."""
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


def setting_of(job: dict, keys: list[str]) -> str:
    """What a job tried (its overrides of `keys`), less its seed: the jobs of one setting differ only in seed."""
    return " ".join(f"{k}={job['overrides'][k]}" for k in keys if k in job["overrides"]) or "(all the same)"


def by_setting(jobs: list[dict]) -> dict[str, list[dict]]:
    """Jobs grouped by the overrides that vary across the sweep, seed aside."""
    varying = [k for k in varying_keys(jobs) if k != "seed"]
    groups: dict[str, list[dict]] = {}
    for job in jobs:
        groups.setdefault(setting_of(job, varying), []).append(job)
    return groups


def markdown(header: list[str], rows: list[list]) -> str:
    def cell(v):
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def varying_keys(jobs: list[dict]) -> list[str]:
    """The override keys whose value is not the same in every job."""
    keys = sorted({k for job in jobs for k in job["overrides"]})
    return [k for k in keys if len({job["overrides"].get(k) for job in jobs}) > 1]


def job_table(jobs: list[dict]) -> tuple[list[str], list[list]]:
    keys = varying_keys(jobs)
    header = ["job", *keys, *(m if m != "objective" else "shape_rmse+a_w1" for m in METRICS)]
    rows = [[job["job"], *(job["overrides"].get(k, "") for k in keys), *(job[m] for m in METRICS)] for job in jobs]
    return header, rows


def summary_table(jobs: list[dict]) -> tuple[list[str], list[list]]:
    """Per setting: seeds, median and worst of shape_rmse and a_w1, median a_std and training seconds."""
    groups = by_setting(jobs)
    header = [
        "setting",
        "seeds",
        "shape_rmse median",
        "shape_rmse worst",
        "a_w1 median",
        "a_w1 worst",
        "a_std median",
        "seconds median",
    ]
    rows = []
    for setting, members in sorted(groups.items(), key=lambda kv: statistics.median(j["objective"] for j in kv[1])):
        col = {m: [j[m] for j in members] for m in ("shape_rmse", "a_w1", "a_std", "seconds")}

        rows.append(
            [
                setting,
                len(members),
                statistics.median(col["shape_rmse"]),
                max(col["shape_rmse"]),
                statistics.median(col["a_w1"]),
                max(col["a_w1"]),
                statistics.median(col["a_std"]),
                statistics.median(col["seconds"]),
            ]
        )
    return header, rows


def quality_figure(jobs: list[dict], path: Path) -> None:
    """shape_rmse and a_w1 over training, the median over seeds of each setting."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = by_setting([job for job in jobs if job.get("history")])
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
        ax.set_title(f"{metric} (median over seeds)", fontsize="medium")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize="x-small", loc="upper right")
    fig.tight_layout()
    fig.savefig(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m curvegan.report", description=__doc__.splitlines()[0])
    parser.add_argument("sweep_dir", type=Path, help="a Hydra multirun dir (multirun/DATE/TIME)")
    parser.add_argument("--out", type=Path, help="where report.csv and report.png go (default: the sweep dir)")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        sys.exit(f"curvegan.report: {args.sweep_dir}: no such directory")
    jobs, unfinished = read_jobs(args.sweep_dir)
    if not jobs:
        sys.exit(f"curvegan.report: {args.sweep_dir}: no finished jobs (no */metrics.json)")
    out = args.out or args.sweep_dir
    out.mkdir(parents=True, exist_ok=True)

    header, rows = job_table(jobs)
    with open(out / "report.csv", "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    print(f"## {len(jobs)} finished jobs in {args.sweep_dir}\n")
    common = sorted(
        {f"{k}={v}" for job in jobs for k, v in job["overrides"].items()}
        - set(f"{k}={job['overrides'].get(k)}" for job in jobs for k in varying_keys(jobs))
    )
    if common:
        print(f"Every job: {' '.join(common)}\n")
    print(markdown(header, rows))
    if any(len(group) > 1 for group in by_setting(jobs).values()):
        print("\n## Per setting, over seeds\n")
        print(markdown(*summary_table(jobs)))
    if unfinished:
        print(f"\n{len(unfinished)} unfinished: {', '.join(str(p.relative_to(args.sweep_dir)) for p in unfinished)}")
    quality_figure(jobs, out / "report.png")
    print(f"wrote {out / 'report.csv'} and {out / 'report.png'}", file=sys.stderr)


if __name__ == "__main__":
    main()
