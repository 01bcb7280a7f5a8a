"""A figure: one measured value, its same-run baseline, and a goal the figure checks itself.

The goal is a comparison such as `"== 1"`, `"<= 0.5"` or `">= 0.8"`. It applies to the ratio
(value / baseline) when the figure has one, else to the value itself, as in BENCH.md's example.
`met` is always computed here from the numbers the figure reports, so the JSON cannot claim
a goal its own numbers miss. A figure without a goal is informational: `met` is null.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}


def goal_met(goal: str | None, measured: float | None) -> bool | None:
    """Whether `measured` satisfies `goal` ("<= 0.5"); None when there is no goal or number."""
    if goal is None or measured is None:
        return None
    op, _, threshold = goal.strip().partition(" ")
    if op not in _OPERATORS:
        raise ValueError(f"unknown goal {goal!r}: expected one of {sorted(_OPERATORS)}")
    return _OPERATORS[op](measured, float(threshold))


def rounded(x: float, digits: int = 4) -> float:
    """`x` to `digits` significant digits (whole numbers stay whole)."""
    if x == 0 or not math.isfinite(x):
        return x
    places = digits - 1 - math.floor(math.log10(abs(x)))
    value = round(x, max(places, 0))
    return float(int(value)) if value == int(value) and abs(value) >= 1 else value


@dataclass(frozen=True)
class Figure:
    figure: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str
    goal: str | None
    machine: str
    with_ratio: bool = True
    """False for counts whose goal is on the value itself (storage GETs, memory growth)."""

    @property
    def reported_value(self) -> float:
        return rounded(self.value)

    @property
    def reported_baseline(self) -> float | None:
        return None if self.baseline is None else rounded(self.baseline)

    @property
    def ratio(self) -> float | None:
        if not self.with_ratio or not self.baseline:
            return None
        return round(self.value / self.baseline, 3)

    @property
    def met(self) -> bool | None:
        ratio = self.ratio
        return goal_met(self.goal, ratio if ratio is not None else self.reported_value)

    def to_json(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "value": self.reported_value,
            "unit": self.unit,
            "baseline": self.reported_baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "goal": self.goal,
            "met": self.met,
            "machine": self.machine,
        }
