"""The registry of quality metrics: each declared once, with which way is better and a line of help.

A family, a variant or a generic metric module declares the metrics it produces (`declare`) and lists them in
its `metrics`; its quality function returns exactly those, one value per member ([members]). Everything that
shows a metric reads its declaration: metrics.json (which records the declarations of what it holds, under
`declarations`), TensorBoard (`1_quality/<name>`, and `worst/<name>` for a metric with a direction), the
console's last line (the `headline` metrics), and curvegan.report (ordering, worst and percentiles).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Metric:
    """A metric's declaration. `better`: "lower", "higher", or "" where neither is (a spread)."""

    name: str
    better: str
    help: str
    headline: bool = False  # printed in a run's last line
    log_scale: bool = False  # spread over decades: the report's figure uses a log axis
    # Its section in TensorBoard and the other loggers: 1_quality/<name>, generic/<name> for the generic ones.
    # TensorBoard's default dashboard sorts sections by name and opens the first two: 1_quality and 2_train.
    section: str = "1_quality"
    undefined: bool = False  # may be undefined (NaN, null in metrics.json) for a member that has no such value
    count: bool = False  # a whole number (of modes): TensorBoard's smoothing shows it as a fraction

    @property
    def worst_is_largest(self) -> bool:
        return self.better == "lower"


METRICS: dict[str, Metric] = {}


def declare(name: str, better: str, help: str, **options) -> Metric:
    """Declare a metric (once: a second declaration of a name must be the same)."""
    if better not in ("lower", "higher", ""):
        raise ValueError(f"{name}: better must be lower, higher or empty, not {better!r}")
    metric = Metric(name, better, help, **options)
    if METRICS.setdefault(name, metric) != metric:
        raise ValueError(f"metric {name} is declared twice, differently")
    return metric


def declarations(names) -> dict[str, dict]:
    """What metrics.json records of each metric it holds."""
    return {name: {k: v for k, v in asdict(METRICS[name]).items() if k != "name"} for name in names}


OBJECTIVE = declare(
    "objective", "lower", "what sweeps minimise: the family's own sum of errors (curves: shape_rmse + a_w1)"
)
# Shared by the mode test beds (curves: families/modes.py; points: families/ring.py, grid.py).
HQ_FRACTION = declare(
    "hq_fraction",
    "higher",
    "share of high-quality samples: within 3 mode_std of their nearest mode (curves: also a fit RMSE ≤ 0.05)",
    headline=True,
)
MODES_CAPTURED = declare(
    "modes_captured",
    "higher",
    "modes that are the nearest of at least n/(5·M) high-quality samples",
    headline=True,
    count=True,
)
PACGAN_MODES = declare(
    "pacgan_modes",
    "higher",
    "modes that hold at least one high-quality sample (PacGAN's 'modes', Lin et al. 2018)",
    headline=True,
    count=True,
)
MODE_KL = declare(
    "mode_kl",
    "lower",
    "KL(p ‖ uniform) in nats, p the modes' shares of the high-quality samples (null: none is high quality)",
    headline=True,
    undefined=True,
)
MODE_METRICS = (HQ_FRACTION, MODES_CAPTURED, PACGAN_MODES, MODE_KL)


def mode_coverage(nearest: torch.Tensor, high_quality: torch.Tensor, modes: int) -> dict[str, torch.Tensor]:
    """The mode test beds' metrics of samples given each one's nearest mode [..., n] (an index) and whether it
    is high quality [..., n]: hq_fraction, modes_captured, pacgan_modes and mode_kl, each [...]."""
    n = nearest.shape[-1]
    counts = torch.zeros(*nearest.shape[:-1], modes, device=nearest.device)
    counts.scatter_add_(-1, nearest, high_quality.float())
    total = counts.sum(dim=-1, keepdim=True)
    p = counts / total  # NaN where no sample is high quality
    kl = torch.where(p > 0, p * (p * modes).log(), 0.0).sum(dim=-1)
    return {
        "hq_fraction": high_quality.float().mean(dim=-1),
        "modes_captured": (counts >= n / (5 * modes)).sum(dim=-1).float(),
        "pacgan_modes": (counts > 0).sum(dim=-1).float(),
        "mode_kl": torch.where(total.squeeze(-1) > 0, kl, math.nan),
    }


def headline(values: dict, worst: dict | None = None, digits: int = 4, always: bool = False) -> str:
    """The headline metrics among `values` (a run's or a member's), in the order they were produced, as
    "shape_rmse 0.0485 · a_w1 0.1190" (with `always`, every one given); with `worst`, each followed by the worst
    member's value."""
    parts = []
    for name, value in values.items():
        metric = METRICS.get(name)
        if metric is None or not (metric.headline or always):
            continue
        text = f"{name} {_number(value, digits)}"
        if worst is not None and name in worst:
            text += f" (worst {_number(worst[name], digits)})"
        parts.append(text)
    return " · ".join(parts)


def _number(value, digits: int) -> str:
    value = float(value)
    if not math.isfinite(value):
        return "undefined"
    return f"{value:.0f}" if value.is_integer() else f"{value:.{digits}f}"


def summarize(per_member: dict[str, torch.Tensor], kept: torch.Tensor) -> dict:
    """Each metric's median over the kept members (those that did not diverge), and under "worst" the worst
    kept member's value of each metric that has a direction. A NaN (mode_kl with no high-quality sample)
    counts as the worst value there is."""
    top, worst = {}, {}
    for name, values in per_member.items():
        values = values[kept].double()
        metric = METRICS[name]
        if metric.better:
            largest = metric.worst_is_largest
            values = values.nan_to_num(nan=math.inf if largest else -math.inf)
            worst[name] = (values.max() if largest else values.min()).item()
        top[name] = values.quantile(0.5).item()
    return {**top, "worst": worst}


def w1_to_uniform(values: Tensor, low: float, high: float) -> Tensor:
    """The exact 1-Wasserstein distance between the empirical distribution of values [..., n] and U(low, high):
    [...] (float32, computed in float64).

    W1 = ∫₀¹ |F⁻¹(u) − G⁻¹(u)| du, where the empirical quantile F⁻¹ is the i-th smallest sample on [i/n, (i+1)/n]
    and the uniform's G⁻¹ is linear there, so each piece integrates in closed form."""
    c = values.double().sort(dim=-1).values
    n = c.shape[-1]
    width = high - low
    g0 = low + width * torch.arange(n, dtype=torch.float64, device=c.device) / n  # G⁻¹ at a piece's start
    g1 = g0 + width / n  # ... and at its end
    below, above = c <= g0, c >= g1
    piece = torch.where(below, (g0 + g1) / 2 - c, c - (g0 + g1) / 2)  # |c − mean g|, when c is outside
    crossing = ((c - g0) ** 2 + (g1 - c) ** 2) / (2 * (g1 - g0))  # g crosses c inside: two triangles
    piece = torch.where(below | above, piece, crossing)
    return (piece.sum(dim=-1) / n).float()
