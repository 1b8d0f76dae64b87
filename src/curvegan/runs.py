"""Reading a sweep's finished jobs for the report: each job dir's overrides, its family and its metrics.json,
checked field by field; a job whose files cannot be trusted (not strict JSON, not UTF-8, a field of the wrong
type, a value that is not a finite number where one must be) is left out with the reason, never a traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path


class Untrusted(ValueError):
    """A metrics.json that is not a run's record; the message says why."""


def parse_override(line: str) -> tuple[str, str]:
    """A line of Hydra's overrides.yaml ("- key=value") as (key, value)."""
    key, _, value = line.removeprefix("- ").partition("=")
    return key.lstrip("+~"), value


def _reject_constant(name: str):
    raise Untrusted(f"holds {name}, which JSON has no such number for")


def read_job(job_dir: Path) -> dict:
    """A job's overrides and its checked metrics.json."""
    try:
        metrics = json.loads((job_dir / "metrics.json").read_text(), parse_constant=_reject_constant)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Untrusted(f"metrics.json is not readable JSON ({type(err).__name__})") from None
    if not isinstance(metrics, dict) or not isinstance(metrics.get("members"), list) or not metrics["members"]:
        raise Untrusted("metrics.json has no members")
    declared = metrics.get("declarations")
    if not isinstance(declared, dict) or not declared:
        raise Untrusted("metrics.json has no declarations of its metrics")
    for name, declaration in declared.items():
        if not isinstance(declaration, dict) or declaration.get("better", "") not in ("lower", "higher", ""):
            raise Untrusted(f"declarations.{name} is not a metric's declaration (better: lower, higher or empty)")
    history = metrics.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(h, dict) and isinstance(h.get("step"), int) and all(_number_or_none(v) for v in _values(h))
        for h in history
    ):
        raise Untrusted("history is not a list of epochs' records (a step and numbers)")
    if "mode_coverage" in metrics and not _coverage(metrics["mode_coverage"]):
        raise Untrusted("mode_coverage is not a coverage record (modes, samples, and a share per mode each epoch)")
    if not _number_or_none(metrics.get("seconds")):
        raise Untrusted(f"seconds={metrics.get('seconds')!r} is not a number")
    for i, member in enumerate(metrics["members"]):
        if not isinstance(member, dict) or member.get("member") != i or not isinstance(member.get("diverged"), bool):
            raise Untrusted(f"member {i} is not a member's record")
        for name, declaration in declared.items():
            value = member.get(name)
            if value is None and (declaration.get("undefined") or member["diverged"]):
                continue
            if not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)):
                raise Untrusted(f"member {i}: {name}={value!r} is not a finite number")
    overrides_file = job_dir / ".hydra" / "overrides.yaml"
    try:
        lines = overrides_file.read_text().splitlines() if overrides_file.exists() else []
    except (OSError, UnicodeDecodeError) as err:
        raise Untrusted(f".hydra/overrides.yaml is not readable text ({type(err).__name__})") from None
    overrides = dict(parse_override(line) for line in lines if line.strip())
    config = composed(job_dir)
    return {
        "overrides": overrides,
        "family": family_of(config, overrides),
        "seed": seed_of(config, overrides),
        **metrics,
    }


def _coverage(record) -> bool:
    """Whether `record` is what metrics.json's mode_coverage holds: the modes' names, the samples counted, and per
    measured epoch its number, its step and each mode's share, in [0, 1]."""
    if not isinstance(record, dict) or not isinstance(record.get("modes"), list) or not record["modes"]:
        return False
    samples, epochs, steps, shares = (record.get(k) for k in ("samples", "epochs", "steps", "shares"))
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0  # noqa: E731
    if not (whole(samples) and samples > 0 and isinstance(epochs, list) and isinstance(steps, list)):
        return False
    if not (isinstance(shares, list) and len(epochs) == len(steps) == len(shares) > 0):
        return False
    share = lambda v: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1  # noqa: E731
    return (
        all(isinstance(m, str) for m in record["modes"])
        and all(whole(e) for e in epochs)
        and all(whole(t) for t in steps)
        and all(isinstance(row, list) and len(row) == len(record["modes"]) and all(map(share, row)) for row in shares)
    )


def _number_or_none(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _values(record: dict) -> list:
    """A history record's numbers (its `worst` a dict of them)."""
    worst = record.get("worst", {})
    plain = [v for k, v in record.items() if k != "worst"]
    return plain + (list(worst.values()) if isinstance(worst, dict) else [worst])


def composed(job_dir: Path) -> dict:
    """The job's composed config as plain data (read as YAML, never built); {} where there is none to read."""
    import yaml

    try:
        config = yaml.safe_load((job_dir / ".hydra" / "config.yaml").read_text())
    except Exception:  # no config (a run dir made by hand), or not one of ours
        return {}
    return config if isinstance(config, dict) else {}


def family_of(config: dict, overrides: dict) -> str:
    """The data family a job trained (its composed config's data._target_), else its data= override; jobs of
    different families are never ranked against each other."""
    data = config.get("data")
    target = data.get("_target_") if isinstance(data, dict) else None
    if isinstance(target, str):
        return target.rsplit(".", 1)[-1].lower()
    return overrides.get("data", "quadratic")


def seed_of(config: dict, overrides: dict):
    """The job's seed: its composed config's (what it trained with), else its override, else unknown (""); a list
    of one per member where the members have their own (seed=[…])."""
    seed = config.get("seed", overrides.get("seed", ""))
    if isinstance(seed, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in seed):
        return seed
    return seed if isinstance(seed, int | str) and not isinstance(seed, bool) else ""


def read_jobs(sweep_dir: Path) -> tuple[list[dict], list[tuple[Path, str]]]:
    """(the jobs that can be reported, [(job dir, why not)] of the others) under a sweep dir or a run dir."""
    dirs = sorted({p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")})
    dirs += sorted({p.parent for p in sweep_dir.rglob("metrics.json")} - set(dirs))
    jobs, left_out = [], []
    for job_dir in sorted(set(dirs)):
        if not (job_dir / "metrics.json").exists():
            left_out.append((job_dir, "unfinished: no metrics.json"))
            continue
        try:
            job = read_job(job_dir)
        except Untrusted as err:
            left_out.append((job_dir, str(err)))
            continue
        except Exception as err:  # any other malformed field: the job is left out and named, never a traceback
            left_out.append((job_dir, f"metrics.json is malformed ({type(err).__name__})"))
            continue
        jobs.append({"job": str(job_dir.relative_to(sweep_dir)) or ".", **job})
    return jobs, left_out
