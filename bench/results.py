"""The two outputs of a run: a table for people and `bench/results/latest.json` for scripts."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from bench.figures import Figure

LATEST = Path(__file__).resolve().parent / "results" / "latest.json"


def write_results(figures: Sequence[Figure], path: Path = LATEST) -> None:
    """Write the figures as BENCH.md describes; atomically, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps([f.to_json() for f in figures], indent=2) + "\n")
    os.replace(tmp, path)


def _number(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.3f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x):,}"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "NO", None: "-"}[met]


def _grouped(pairs: Sequence[tuple[int, str]]) -> list[str]:
    """Each distinct text once, after the numbers of the figures that share it."""
    numbers: dict[str, list[str]] = {}
    for n, text in pairs:
        numbers.setdefault(text, []).append(str(n))
    return [f"  {', '.join(ns)}: {text}" for text, ns in numbers.items()]


def render_table(figures: Sequence[Figure]) -> str:
    head = ("#", "figure", "value", "baseline", "ratio", "goal", "met")
    rows = [
        (
            str(n),
            f.figure,
            f"{_number(f.reported_value)} {f.unit}",
            f"{_number(f.reported_baseline)} {f.unit if f.baseline is not None else ''}".strip(),
            _number(f.ratio),
            f.goal or "-",
            _met(f.met),
        )
        for n, f in enumerate(figures, 1)
    ]
    widths = [max(len(row[i]) for row in [head, *rows]) for i in range(len(head))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(width) if i == 1 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        )

    out = [line(head), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in rows]
    numbered = list(enumerate(figures, 1))
    out += ["", "baselines, each measured in the same run:"]
    out += _grouped([(n, f.baseline_name) for n, f in numbered])
    out += ["machine:", *_grouped([(n, f.machine) for n, f in numbered])]
    return "\n".join(out)
