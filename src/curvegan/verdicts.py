"""How sure a verdict between settings is, from their members: bootstrap 95% intervals (resampling members with
replacement, the percentile interval) of a median and of the difference of two medians, and the probability
that a member of one setting beats a member of the other (every pair compared, ties counted half).

An undefined value (mode_kl with no high-quality sample) counts as the worst there is, as in the summaries.
"""

from __future__ import annotations

import math

import numpy as np

RESAMPLES = 2000
SEED = 0  # the report is the same every time it is made


def as_array(values: list, better: str) -> np.ndarray:
    """Members' values, an undefined one (None or NaN) as the worst value there is."""
    worst = -math.inf if better == "higher" else math.inf
    return np.array([worst if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in values], float)


def _medians(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, len(values), size=(RESAMPLES, len(values)))
    return np.median(values[picks], axis=1)


def median_interval(values: list, better: str) -> tuple[float, float, float]:
    """(median, low, high): the median of the members' values and its bootstrap 95% interval."""
    array = as_array(values, better)
    medians = _medians(array, np.random.default_rng(SEED))
    low, high = np.percentile(medians, [2.5, 97.5], method="nearest")
    return float(np.median(array)), float(low), float(high)


def difference_interval(a: list, b: list, better: str) -> tuple[float, float, float]:
    """(difference, low, high): median(a) − median(b) and its bootstrap 95% interval (a and b resampled apart)."""
    rng = np.random.default_rng(SEED)
    x, y = as_array(a, better), as_array(b, better)
    with np.errstate(invalid="ignore"):
        differences = _medians(x, rng) - _medians(y, rng)
        low, high = np.percentile(differences, [2.5, 97.5], method="nearest")
        return float(np.median(x) - np.median(y)), float(low), float(high)


def beats(a: list, b: list, better: str) -> float:
    """The probability that a member of a, picked at random, is better than a member of b (a tie: one half)."""
    x, y = as_array(a, better)[:, None], as_array(b, better)[None, :]
    wins = (x < y) if better == "lower" else (x > y)
    return float((wins + 0.5 * (x == y)).mean())


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (linear between order statistics, as numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    a, b = ordered[low], ordered[high]
    return a + (b - a) * (position - low) if a != b else a


def towards_worse(values: list[float], q: float, better: str) -> float:
    """The q-th percentile counted from the best end: for lower-is-better the q-th, else the (100 − q)-th."""
    return percentile(values, q if better == "lower" else 100 - q)
