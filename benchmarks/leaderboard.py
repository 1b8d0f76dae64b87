"""The leaderboard: GAN ideas judged at equal tuning budget, over 64 fresh seeds, on every exact family.

    python benchmarks/leaderboard.py [--settings 16] [--seeds 4] [--fresh 64] [--ideas bce,hinge] [--families ring]
                                     [--jobs 2] [--out multirun/leaderboard]        (make leaderboard)

The protocol, the same for every row (after Lucic et al., 2018, "Are GANs Created Equal?"):

1. a random search: `--settings` settings drawn from the idea's own member-wise keys (both learning rates, β1,
   its penalty weights or decay; the ranges are declared once, in IDEAS and SHARED below) × `--seeds` seeds,
   all of them one ensemble (each key a list of one value per member: curvegan.memberwise), on the family's test
   bed (TEST_BEDS: the network, the batch and the G updates every row shares);
2. the best setting: the lowest median of the family's `objective` over its seeds (a diverged member counts as
   the worst value there is);
3. `--fresh` fresh seeds of that setting (another seed, so other initial weights, data and noise), one ensemble;
   what the board shows: the median objective with its bootstrap 95% interval, the 90th percentile towards worse,
   how many members collapsed and diverged, and the verdict against the seed's GAN (bce, tuned the same way): the
   difference of medians with its 95% interval and P(a member beats one of the seed's);
4. the budget curve: the expected best search median when k of the N settings are tried (the exact expectation
   over every k-subset, i.e. resampling the search without replacement), per idea and family.

Every run is a whole `python -m curvegan.train` process (`--jobs` at a time, one thread each); the runs stay in
`--out` (each with its metrics.json). Writes docs/leaderboard.md (the numbers, then the handwritten reading kept in
docs/leaderboard_reading.md), docs/leaderboard.png (the board) and docs/leaderboard_budget.png (the budget
curves). Only the numbers of this run are written: a row whose runs fail is shown as failed, never left out.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
from curvegan.verdicts import as_array, beats, difference_interval, median_interval, towards_worse  # noqa: E402

# Every family's test bed, shared by every row: the seed's network (MLP 32 ReLU, both), 6000 G updates (20 epochs
# × 300 batches); the curves in batches of 32 (the seed's), the 2-D mixtures in batches of 100 (PacGAN's).
# The mode bed with the plain normal prior: G is not told the number of modes.
TEST_BEDS = {
    "quadratic": ["data=quadratic"],
    "modes": ["data=modes", "model.latent=normal"],
    "ring": ["data=ring", "data.batch_size=100"],
    "grid": ["data=grid", "data.batch_size=100"],
}
SEARCH_SEED, FRESH_SEED = 0, 1000


@dataclass(frozen=True)
class Key:
    """A searched key: drawn uniformly on [low, high], or on a log scale; `path` is where it goes ("beta1" is
    the first of model.betas; "ema" draws 1 − decay on a log scale)."""

    path: str
    low: float
    high: float
    log: bool = False

    def draw(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


# What every idea searches: both learning rates and β1.
SHARED = [Key("model.g_lr", 5e-5, 2e-3, log=True), Key("model.d_lr", 5e-5, 2e-3, log=True), Key("beta1", 0.0, 0.9)]


@dataclass(frozen=True)
class Idea:
    name: str
    overrides: tuple[str, ...]
    keys: tuple[Key, ...] = ()  # its own searched keys, besides SHARED
    beta2: float = 0.999


IDEAS = [
    Idea("bce (the seed's GAN)", ("objective=bce",)),
    Idea("minimax", ("objective=minimax",)),
    Idea("LSGAN", ("objective=lsgan",)),
    Idea("hinge", ("objective=hinge",)),
    Idea("WGAN-GP", ("objective=wgan_gp",), (Key("objective.gp_weight", 1.0, 30.0, log=True),), beta2=0.9),
    Idea("RaGAN", ("objective=ragan",)),
    Idea("R3GAN (RpGAN + R1 + R2)", ("objective=rpgan",), (Key("gamma", 1e-3, 10.0, log=True),), beta2=0.99),
    Idea("bce + R1", ("objective=bce",), (Key("objective.r1", 1e-3, 10.0, log=True),)),
    Idea(
        "PacGAN2",
        (
            "objective=bce",
            "model.pack=2",
        ),
    ),
    Idea("EMA of G", ("objective=bce",), (Key("ema", 1e-3, 1e-1, log=True),)),
]
BASELINE = IDEAS[0].name


def slug(text: str) -> str:
    """An idea's short name (--ideas, its run dirs): bce, r3gan, wgan_gp, bce_r1, ema_of_g, …"""
    return re.sub(r"[^a-z0-9]+", "_", text.split(" (")[0].lower()).strip("_")


def settings_of(idea: Idea, family: str, n: int) -> list[dict]:
    """n settings drawn for the idea on the family (the same every time: the generator is seeded by both names)."""
    seed = int(hashlib.sha1(f"{idea.name}/{family}".encode()).hexdigest()[:8], 16)
    rng = np.random.default_rng(seed)
    return [{key.path: key.draw(rng) for key in (*SHARED, *idea.keys)} for _ in range(n)]


def config_values(idea: Idea, setting: dict) -> dict:
    """One setting as the config's keys take it (β1 with the idea's β2; R3GAN's γ as both R1 and R2; the EMA's
    decay as 1 − what was drawn)."""
    out = {}
    for key in (*SHARED, *idea.keys):
        value = setting[key.path]
        if key.path == "beta1":
            out["model.betas"] = [round(value, 6), idea.beta2]
        elif key.path == "gamma":
            out["objective.r1"] = out["objective.r2"] = float(f"{value:.6g}")
        elif key.path == "ema":
            out["model.g_ema"] = float(f"{1 - value:.6g}")
        else:
            out[key.path] = float(f"{value:.6g}")
    return out


def shown(value) -> str:
    return json.dumps(value).replace(" ", "")


def overrides_of(idea: Idea, settings: list[dict], repeat: int) -> list[str]:
    """Member-wise lists: each setting's values `repeat` times (its seeds)."""
    values = [config_values(idea, s) for s in settings]
    return [f"{path}={shown([v[path] for v in values for _ in range(repeat)])}" for path in values[0]]


def train(run_dir: Path, overrides: list[str]) -> dict | str:
    """One run (a whole process); its metrics.json, or the last line of its error."""
    if (run_dir / "metrics.json").is_file():  # a finished run of an interrupted board: kept
        return json.loads((run_dir / "metrics.json").read_text())
    argv = [sys.executable, "-m", "curvegan.train", *overrides, f"hydra.run.dir={run_dir}", "cpu_threads=1"]
    argv += ["logger=none", "callbacks.monitor.gif_path=null", "callbacks.monitor.every_n_epochs=20"]
    argv += ["evaluation.generic=false"]
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        return (result.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads((run_dir / "metrics.json").read_text())


def objectives(metrics: dict) -> list:
    """Each member's objective, a diverged one as undefined (the worst there is)."""
    return [None if m.get("diverged") else m.get("objective") for m in metrics["members"]]


def search_medians(metrics: dict, n: int, seeds: int) -> list[float]:
    values = as_array(objectives(metrics), "lower")
    return [float(np.median(values[k * seeds : (k + 1) * seeds])) for k in range(n)]


def expected_best(medians: list[float]) -> list[float]:
    """E[min of k settings drawn without replacement] for k = 1..N: the i-th smallest is the minimum of a k-subset
    with probability C(N − i, k − 1) / C(N, k)."""
    ordered = sorted(medians)
    n = len(ordered)
    curve = []
    for k in range(1, n + 1):
        weights = [math.comb(n - i, k - 1) / math.comb(n, k) for i in range(1, n + 1)]
        curve.append(sum(w * m for w, m in zip(weights, ordered, strict=True) if w))
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", type=int, default=24, help="settings tried per idea and family (N)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per setting in the search (S)")
    parser.add_argument("--fresh", type=int, default=64, help="fresh seeds of the best setting")
    parser.add_argument("--ideas", help="only these ideas (comma-separated slugs, e.g. bce,hinge)")
    parser.add_argument("--families", default=",".join(TEST_BEDS), help="comma-separated")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (one thread each)")
    parser.add_argument("--out", type=Path, default=ROOT / "multirun" / "leaderboard")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs", help="where leaderboard.md and the figures go")
    parser.add_argument("--extra", default="", help="overrides added to every run (space-separated; for tests)")
    parser.add_argument("--redraw", action="store_true", help="only rewrite the docs from --out's board.json")
    args = parser.parse_args()
    if args.redraw:
        board = json.loads((args.out / "board.json").read_text())
        names = {cell["idea"] for cell in board["cells"].values()}
        families = list(dict.fromkeys(cell["family"] for cell in board["cells"].values()))
        write_docs(board, [i for i in IDEAS if i.name in names], families, args.docs)
        return
    ideas = [i for i in IDEAS if not args.ideas or slug(i.name) in args.ideas.split(",")]
    extra = args.extra.split()
    families = args.families.split(",")
    started = time.perf_counter()
    cells = [(idea, family) for family in families for idea in ideas]

    def search(cell):
        idea, family = cell
        settings = settings_of(idea, family, args.settings)
        overrides = [*TEST_BEDS[family], *idea.overrides, f"seed={SEARCH_SEED}", *extra]
        overrides += [f"ensemble.size={args.settings * args.seeds}", *overrides_of(idea, settings, args.seeds)]
        return settings, train(args.out / "search" / family / slug(idea.name), overrides)

    def fresh(cell, best: dict):
        idea, family = cell
        overrides = [*TEST_BEDS[family], *idea.overrides, f"seed={FRESH_SEED}", f"ensemble.size={args.fresh}", *extra]
        overrides += [f"{path}={shown(value)}" for path, value in config_values(idea, best).items()]
        return train(args.out / "fresh" / family / slug(idea.name), overrides)

    with ThreadPoolExecutor(args.jobs) as pool:
        searched = dict(zip(cells, pool.map(search, cells), strict=True))
        best = {}
        for cell, (settings, metrics) in searched.items():
            if isinstance(metrics, dict):
                medians = search_medians(metrics, args.settings, args.seeds)
                best[cell] = (settings[int(np.argmin(medians))], medians)
        fresh_cells = [c for c in cells if c in best]
        freshly = dict(zip(fresh_cells, pool.map(lambda c: fresh(c, best[c][0]), fresh_cells), strict=True))
    minutes = (time.perf_counter() - started) / 60
    board = {"cells": {}, "minutes": minutes, "settings": args.settings, "seeds": args.seeds, "fresh": args.fresh}
    for idea, family in cells:
        entry = {"idea": idea.name, "family": family}
        searched_metrics = searched[(idea, family)][1]
        if not isinstance(searched_metrics, dict):
            entry["failed"] = f"search: {searched_metrics}"
        elif not isinstance(freshly.get((idea, family)), dict):
            entry["failed"] = f"fresh seeds: {freshly.get((idea, family))}"
        else:
            metrics = freshly[(idea, family)]
            entry |= {
                "best": config_values(idea, best[(idea, family)][0]),
                "budget": expected_best(best[(idea, family)][1]),
                "objective": objectives(metrics),
                "members": metrics["members"],
            }
        board["cells"][f"{family}/{idea.name}"] = entry
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "board.json").write_text(json.dumps(board, indent=1, default=str))
    write_docs(board, ideas, families, args.docs)
    print(f"leaderboard: {len(cells)} cells in {minutes:.1f} min → {args.docs / 'leaderboard.md'}")


# --- what the board says -----------------------------------------------------------------------------------


def cell_text(entry: dict) -> str:
    if "failed" in entry:
        return f"failed ({entry['failed'][:60]})"
    median, low, high = median_interval(entry["objective"], "lower")
    return f"{median:.3f} [{low:.3f}, {high:.3f}]"


def row_details(entry: dict, baseline: dict | None) -> list[str]:
    if "failed" in entry:
        return [entry["failed"], "", "", "", "", ""]
    values = entry["objective"]
    worse = towards_worse(list(as_array(values, "lower")), 90, "lower")
    diverged = sum(bool(m.get("diverged")) for m in entry["members"])
    collapsed = sum(bool(m.get("collapsed")) and not m.get("diverged") for m in entry["members"])
    extra = ""
    if "hq_fraction" in entry["members"][0]:
        kept = [m for m in entry["members"] if not m.get("diverged")]
        hq = float(np.median([m["hq_fraction"] for m in kept])) if kept else float("nan")
        # the 2-D mixtures count modes as PacGAN does; the curve bed as it does (curvegan.families.ring)
        modes = "pacgan_modes" if entry["family"] in ("ring", "grid") else "modes_captured"
        count = float(np.median([m[modes] for m in kept])) if kept else float("nan")
        extra = f"hq share {hq:.2f}, {modes} {count:g}"
    if baseline is None or "failed" in baseline or baseline is entry:
        verdict = "–"
    else:
        diff, low, high = difference_interval(values, baseline["objective"], "lower")
        verdict = f"{diff:+.3f} [{low:+.3f}, {high:+.3f}], P(beats) {beats(values, baseline['objective'], 'lower'):.2f}"
    best = ", ".join(f"{k.split('.')[-1]} {rounded(v)}" for k, v in entry["best"].items())
    return [cell_text(entry), f"{worse:.3f}", f"{collapsed} / {diverged}", extra, verdict, best]


def rounded(value) -> str:
    """A setting's value to 3 significant digits (a list: each)."""
    if isinstance(value, list):
        return "[" + ", ".join(rounded(v) for v in value) + "]"
    return f"{value:.3g}"


def write_docs(board: dict, ideas: list[Idea], families: list[str], docs: Path) -> None:
    cells = board["cells"]
    lines = [
        "# The leaderboard",
        "",
        f"Made by `make leaderboard` (benchmarks/leaderboard.py) in {board['minutes']:.0f} minutes: for every idea and "
        f"family, a random search of {board['settings']} settings × {board['seeds']} seeds over the idea's own "
        f"member-wise keys, then {board['fresh']} fresh seeds of the best setting. Each cell is the family's "
        "`objective` (lower is better), the median over the fresh seeds with its bootstrap 95% interval; a diverged "
        "member counts as the worst value there is. The test beds and the searched ranges are in the script.",
        "",
        "| idea | " + " | ".join(families) + " |",
        "| --- | " + " | ".join("---" for _ in families) + " |",
    ]
    for idea in ideas:
        row = [cell_text(cells[f"{family}/{idea.name}"]) for family in families if f"{family}/{idea.name}" in cells]
        lines.append(f"| {idea.name} | " + " | ".join(row) + " |")
    for family in families:
        lines += [
            "",
            f"## {family}",
            "",
            "| idea | median [95% CI] | 90th percentile (worse) | collapsed / diverged | median member's modes | "
            f"vs {BASELINE}: difference [95% CI] | best setting |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        baseline = cells.get(f"{family}/{BASELINE}")
        for idea in ideas:
            entry = cells[f"{family}/{idea.name}"]
            lines.append(f"| {idea.name} | " + " | ".join(row_details(entry, baseline)) + " |")
    n = board["settings"]
    marks = sorted({1, max(1, n // 4), max(1, n // 2), n})
    lines += [
        "",
        "## The budget curve",
        "",
        f"The expected best search median (over {board['seeds']} seeds) when k of the {n} settings are tried, the exact"
        " mean over every k-subset (docs/leaderboard_budget.png draws every k): an idea whose first column is far"
        " above its last needs tuning to shine.",
        "",
        "| idea | family | " + " | ".join(f"k = {k}" for k in marks) + " |",
        "| --- | --- | " + " | ".join("---" for _ in marks) + " |",
    ]
    for family in families:
        for idea in ideas:
            entry = cells[f"{family}/{idea.name}"]
            if "budget" in entry:
                lines.append(
                    f"| {idea.name} | {family} | " + " | ".join(f"{entry['budget'][k - 1]:.3f}" for k in marks) + " |"
                )
    reading = docs / "leaderboard_reading.md"
    if reading.is_file():
        lines += ["", reading.read_text().strip()]
    (docs / "leaderboard.md").write_text("\n".join(lines) + "\n")
    draw(board, ideas, families, docs)


def draw(board: dict, ideas: list[Idea], families: list[str], docs: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = board["cells"]
    fig, axes = plt.subplots(1, len(families), figsize=(3.2 * len(families), 0.32 * len(ideas) + 1.6), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, family in zip(axes, families, strict=True):
        for y, idea in enumerate(ideas):
            entry = cells[f"{family}/{idea.name}"]
            if "failed" in entry:
                ax.text(0.5, y, "failed", transform=ax.get_yaxis_transform(), ha="center", va="center", fontsize=8)
                continue
            median, low, high = median_interval(entry["objective"], "lower")
            color = "black" if idea.name == BASELINE else "tab:blue"
            ax.errorbar(median, y, xerr=[[median - low], [high - median]], fmt="o", color=color, ms=4, capsize=2)
            if idea.name == BASELINE:
                ax.axvline(median, color="grey", lw=0.8, ls="--")
        ax.set_title(family, fontsize=10)
        ax.set_xlabel("objective (lower is better)", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(range(len(ideas)), [i.name for i in ideas])
    axes[0].invert_yaxis()
    fig.suptitle(f"Median of {board['fresh']} fresh seeds of each idea's best setting, with 95% intervals", fontsize=10)
    fig.tight_layout()
    fig.savefig(docs / "leaderboard.png", dpi=110)
    plt.close(fig)

    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(families), figsize=(3.2 * len(families), 4.0))
    axes = np.atleast_1d(axes)
    for ax, family in zip(axes, families, strict=True):
        for idea in ideas:
            entry = cells[f"{family}/{idea.name}"]
            if "budget" in entry:
                k = range(1, len(entry["budget"]) + 1)
                ax.plot(k, entry["budget"], lw=1.6 if idea.name == BASELINE else 1, label=idea.name)
        ax.set_title(family, fontsize=10)
        ax.set_xlabel("settings tried", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=8)
    axes[0].set_ylabel("expected best search median", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=min(5, len(labels)), frameon=False)
    fig.suptitle("The budget curve: the best median found when k settings are tried", fontsize=10)
    fig.tight_layout(rect=(0, 0.06 + 0.035 * ((len(labels) - 1) // 5), 1, 1))
    fig.savefig(docs / "leaderboard_budget.png", dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
