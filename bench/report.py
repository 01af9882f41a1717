"""What every benchmark returns, and the markdown table `python -m bench` prints from it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any


def row(
    metric: str,
    measured: float,
    baseline: float | None,
    value_ratio: float | None,
    goal: str,
    met: bool | None,
    *,
    measured_label: str = "Herald",
    baseline_label: str = "baseline",
) -> dict[str, Any]:
    """One line of the table: a figure, the baseline it is compared with, and their ratio;
    `met` is None for a figure that has no goal of its own; a figure measured against no
    baseline has None for both."""
    return {
        "metric": metric,
        "measured": measured,
        "measured_label": measured_label,
        "baseline": baseline,
        "baseline_label": baseline_label,
        "ratio": None if value_ratio is None or math.isnan(value_ratio) else round(value_ratio, 3),
        "goal": goal,
        "met": met,
    }


def at_least(threshold: float) -> Callable[[float], bool]:
    return lambda value: not math.isnan(value) and value >= threshold


def at_most(threshold: float) -> Callable[[float], bool]:
    return lambda value: not math.isnan(value) and value <= threshold


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def markdown_table(results: Iterable[dict[str, Any]]) -> str:
    lines = [
        "| benchmark | metric | measured | baseline | ratio | goal | met |",
        "|---|---|---:|---:|---:|---|:---:|",
    ]
    for result in results:
        for line in result.get("rows", []):
            lines.append(
                f"| {result['name']} | {line['metric']} "
                f"| {_number(line['measured'])} ({line['measured_label']}) "
                f"| {_number(line['baseline'])}"
                f"{f' ({label})' if (label := line['baseline_label']) else ''} "
                f"| {_number(line['ratio'])} | {line['goal']} "
                f"| {'—' if line['met'] is None else 'yes' if line['met'] else 'no'} |"
            )
    return "\n".join(lines)
