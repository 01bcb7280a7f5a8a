"""Building the index of a huge archive: time and peak memory against zipfile opening it.

Each measurement is a subprocess (`indexwork`) reading a local file, alternating between
`build_index` and `zipfile.ZipFile`; the median time and the median peak RSS (VmHWM, whole
process, interpreter included) of each are compared.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.procstat import MiB

ZIPFILE = "zipfile.ZipFile(path) on the same archive (whole central directory into memory)"


def _work(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.indexwork", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.indexwork {' '.join(args)} failed:\n{done.stderr[-4000:]}")
    found: dict[str, Any] = json.loads(done.stdout) if done.stdout.strip() else {}
    return found


def make_archive(path: Path, entries: int) -> None:
    _work("make", str(path), str(entries))


@dataclass(frozen=True)
class IndexRuns:
    entries: int
    build: list[dict[str, Any]]
    zipfile: list[dict[str, Any]]


def index_runs(archive: Path, spill_dir: Path, *, rounds: int) -> IndexRuns:
    build: list[dict[str, Any]] = []
    opened: list[dict[str, Any]] = []
    for i in range(rounds):
        order = [("build", build), ("zipfile", opened)]
        for mode, into in order if i % 2 == 0 else reversed(order):
            args = [mode, str(archive)] + ([str(spill_dir)] if mode == "build" else [])
            into.append(_work(*args))
    counts = {r["entries"] for r in build + opened}
    if len(counts) != 1:
        raise RuntimeError(f"build_index and zipfile disagree on the entry count: {counts}")
    return IndexRuns(counts.pop(), build, opened)


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def index_figures(found: IndexRuns, archive: Path, machine: str) -> list[Figure]:
    n = len(found.build)
    what = f"{found.entries:,} entries, {os.path.getsize(archive) / MiB:.0f} MiB archive"
    return [
        Figure(
            figure=f"index build time, build_index over FileSource ({what}; median of {n})",
            value=_median(found.build, "seconds"),
            unit="s",
            baseline=_median(found.zipfile, "seconds"),
            baseline_name=ZIPFILE,
            goal=None,
            machine=machine,
        ),
        Figure(
            figure=f"index build peak RSS (VmHWM of the process), build_index ({what}; median "
            f"of {n})",
            value=_median(found.build, "peak") / MiB,
            unit="MiB",
            baseline=_median(found.zipfile, "peak") / MiB,
            baseline_name=ZIPFILE,
            goal="<= 0.5",
            machine=machine,
        ),
    ]
