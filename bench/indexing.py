"""Building the index of a huge archive: time and peak memory against zipfile opening it.

Each measurement is a subprocess (`indexwork`) reading a local file, alternating between
`build_index` (with and without the tree section), the bare central-directory parse
(`iter_entries`) and `zipfile.ZipFile`; the median time and the median peak RSS (VmHWM, whole
process, interpreter included) of each are compared. `python -m bench.indexing [ENTRIES]
[ROUNDS]` runs it alone and prints the table.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
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
    flat: list[dict[str, Any]] = field(default_factory=list)
    """build_index without the tree section: the index as it was before listings used one."""
    parse: list[dict[str, Any]] = field(default_factory=list)
    """iter_entries alone: the central-directory parse that zipfile does too."""


def index_runs(archive: Path, spill_dir: Path, *, rounds: int) -> IndexRuns:
    found: dict[str, list[dict[str, Any]]] = {m: [] for m in ("build", "zipfile", "flat", "parse")}
    for i in range(rounds):
        # Alternated, so a machine that slows down mid-run weighs on every mode alike.
        order = list(found) if i % 2 == 0 else list(reversed(found))
        for mode in order:
            spill = [str(spill_dir)] if mode in ("build", "flat") else []
            found[mode].append(_work(mode, str(archive), *spill))
    counts = {r["entries"] for runs in found.values() for r in runs}
    if len(counts) != 1:
        raise RuntimeError(f"build_index and zipfile disagree on the entry count: {counts}")
    return IndexRuns(counts.pop(), found["build"], found["zipfile"], found["flat"], found["parse"])


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def index_figures(found: IndexRuns, archive: Path, machine: str) -> list[Figure]:
    n = len(found.build)
    what = f"{found.entries:,} entries, {os.path.getsize(archive) / MiB:.0f} MiB archive"
    extra = []
    if found.flat:
        extra.append(
            Figure(
                figure=f"index build time without the tree section ({what}; median of {n})",
                value=_median(found.flat, "seconds"),
                unit="s",
                baseline=_median(found.zipfile, "seconds"),
                baseline_name=ZIPFILE,
                goal=None,
                machine=machine,
            )
        )
    if found.parse:
        extra.append(
            Figure(
                figure=f"central-directory parse, ziprange.iter_entries ({what}; median of {n})",
                value=_median(found.parse, "seconds"),
                unit="s",
                baseline=_median(found.zipfile, "seconds"),
                baseline_name=ZIPFILE,
                goal="<= 0.5",
                machine=machine,
            )
        )
    return [
        *extra,
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


def main(argv: list[str]) -> int:
    import tempfile

    from bench.results import render_table
    from bench.world import host_description

    entries = int(argv[0]) if argv else 1_000_000
    rounds = int(argv[1]) if len(argv) > 1 else 3
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "many.zip"
        make_archive(archive, entries)
        found = index_runs(archive, Path(tmp), rounds=rounds)
        machine = f"{host_description()}, archive a local file under {tmp}"
        print(render_table(index_figures(found, archive, machine)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
