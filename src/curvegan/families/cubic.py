"""Cubic curves y = a·x³ + b on `num_points` evenly spaced x of [-1, 1], a ~ U(a_min, a_max) and b ~ U(b_min, b_max)
independently: a two-parameter curve family (the slope of the cubic and its height). Its metrics are every curve
family's (curvegan.families.curves): shape_rmse, a_w1, b_w1, a_std, b_std, joint_coverage over the (a, b) box,
and objective = shape_rmse + the mean of a_w1 and b_w1."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from curvegan.families.curves import Curves, curve_metrics
from curvegan.keys import key, number
from curvegan.metrics import w1_to_uniform


@dataclass
class Cubic(Curves):
    """y = a·x³ + b, the two parameters uniform and independent."""

    name: ClassVar[str] = "cubic"
    parameters: ClassVar = ("a", "b")
    metrics: ClassVar = curve_metrics(("a", "b"))
    shown: ClassVar = ("shape_rmse", "joint_coverage")
    objective_says: ClassVar[str] = "shape_rmse + mean of a_w1, b_w1"

    a_min: float = key(0.5, number(), "the lower end of a's range (the cubic's slope)")
    a_max: float = key(1.5, number(), "the upper end of a's range")
    b_min: float = key(-0.5, number(), "the lower end of b's range (the curve's height)")
    b_max: float = key(0.5, number(), "the upper end of b's range")

    def basis(self, x: Tensor) -> Tensor:
        return torch.stack([x**3, torch.ones_like(x)])

    def draw(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        a = torch.empty(shape).uniform_(self.a_min, self.a_max, generator=generator)
        b = torch.empty(shape).uniform_(self.b_min, self.b_max, generator=generator)
        return torch.stack([a, b], dim=-1)

    def parameter_ranges(self) -> list[tuple[float, float]]:
        return [(self.a_min, self.a_max), (self.b_min, self.b_max)]

    def spreads(self) -> list[float]:
        return [(high - low) / math.sqrt(12) for low, high in self.parameter_ranges()]

    def w1(self, values: Tensor, k: int = 0) -> Tensor:
        return w1_to_uniform(values, *self.parameter_ranges()[k])

    def describe(self) -> str:
        return f"cubics y = a·x³ + b, a ~ U({self.a_min:g}, {self.a_max:g}), b ~ U({self.b_min:g}, {self.b_max:g})"

    @classmethod
    def check(cls, node: Any, cfg: Any) -> tuple[str, Any, str] | None:
        for name in ("a", "b"):
            if node[f"{name}_min"] >= node[f"{name}_max"]:
                return f"data.{name}_min", node[f"{name}_min"], f"less than data.{name}_max ({node[f'{name}_max']})"
        return None
