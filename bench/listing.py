"""A folder's first page on a 1,000,000-entry archive against a 10-entry one: `python -m
bench.listing [WORKDIR]`.

Both archives are indexed as an upload indexes them (`build_index`, tree section included);
each page is then read the way the listings read it, through `listing.indexed_folder` over
the sidecar, cold (a fresh cache: what a new process pays) and warm (the same cache again).
Every read of the sidecar is counted (`CountingSource`): in the service each is one ranged
GET of object storage (`streams.StoreSource.read`), so the count is the page's storage
requests. The baseline of the 1M figures is the 10-entry archive's same page; the bucket walk
that the tree replaced (`list_folder` over every bucket, what indexes without a tree section
still do) is measured once per folder too, for the record.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from artifactsvc.listing import TreePage, indexed_folder, list_folder
from artifactsvc.ziprange import (
    BucketCache,
    CountingSource,
    FileSource,
    IndexDirectory,
    build_index,
    iter_index_entries,
)
from bench.figures import Figure
from bench.indexing import make_archive
from bench.results import render_table
from bench.world import host_description

MILLION = 1_000_000
SMALL = 10
ROUNDS = 5
PER_PAGE = 20
# Folders of bench.archives.build_many_entries_archive: pkgNNNN/modNN/file-NNNNNNN.txt.
FOLDERS = {"root": "", "deep folder": "pkg0000/mod00"}


@dataclass(frozen=True)
class Indexed:
    entries: int
    directory: IndexDirectory
    sidecar: Path


def indexed(workdir: Path, entries: int) -> Indexed:
    archive = workdir / f"listing-{entries}.zip"
    if not archive.exists():
        make_archive(archive, entries)
    sidecar = workdir / f"listing-{entries}.index"
    with sidecar.open("w+b") as out:
        directory = build_index(
            FileSource(archive), out, etag="bench", spill_dir=str(workdir), tree=True
        )
    return Indexed(entries, directory, sidecar)


@dataclass(frozen=True)
class Trial:
    seconds: float
    reads: int
    bytes_read: int


def _page(
    index: Indexed, folder: str, cache: BucketCache, *, gitlab: bool
) -> tuple[Trial, TreePage]:
    sidecar = CountingSource(FileSource(index.sidecar))
    # The row's bytes, parsed as each request parses them.
    row = index.directory.to_bytes()
    started = time.perf_counter()
    directory = IndexDirectory.from_bytes(row)
    page = indexed_folder(
        directory, sidecar, folder, gitlab=gitlab, offset=0, limit=PER_PAGE, cache=cache
    )
    seconds = time.perf_counter() - started
    return Trial(seconds, sidecar.requests, sidecar.bytes_read), page


def trials(index: Indexed, folder: str, *, gitlab: bool) -> tuple[list[Trial], list[Trial]]:
    """(cold, warm) trials of the folder's first page."""
    cold, warm = [], []
    for _ in range(ROUNDS):
        cache = BucketCache()
        cold.append(_page(index, folder, cache, gitlab=gitlab)[0])
        warm.append(_page(index, folder, cache, gitlab=gitlab)[0])
    return cold, warm


def walk_seconds(index: Indexed, folder: str) -> float:
    sidecar = FileSource(index.sidecar)
    started = time.perf_counter()
    list_folder(
        iter_index_entries(sidecar, index.directory),
        folder,
        recursive=False,
        offset=0,
        limit=PER_PAGE,
    )
    return time.perf_counter() - started


def _median(found: list[Trial], key: Callable[[Trial], float]) -> float:
    return float(statistics.median(key(t) for t in found))


def listing_figures(workdir: Path, machine: str, *, walk: bool = True) -> list[Figure]:
    big, small = indexed(workdir, MILLION), indexed(workdir, SMALL)
    figures: list[Figure] = []
    for label, folder in FOLDERS.items():
        for gitlab in (False, True):
            route = "artifacts/tree" if gitlab else "artifacts_tree"
            big_cold, big_warm = trials(big, folder, gitlab=gitlab)
            small_cold, small_warm = trials(small, folder, gitlab=gitlab)
            for state, mine, theirs in (
                ("cold", big_cold, small_cold),
                ("warm", big_warm, small_warm),
            ):
                what = f"{route} page 1 ({PER_PAGE}) of the {label}, {state}"
                figures.append(
                    Figure(
                        figure=f"{what}: time, 1M-entry archive (median of {ROUNDS})",
                        value=_median(mine, lambda t: t.seconds) * 1000,
                        unit="ms",
                        baseline=_median(theirs, lambda t: t.seconds) * 1000,
                        baseline_name=f"the same page of a {SMALL}-entry archive",
                        # Absolute: the row's directory (B + 1 bucket offsets, ~25 KiB for a
                        # million entries) is parsed per request, so a 1M page costs a few
                        # tenths of a millisecond more than a 10-entry one, never seconds.
                        goal="<= 5",
                        machine=machine,
                        with_ratio=False,
                    )
                )
                figures.append(
                    Figure(
                        figure=f"{what}: storage requests (sidecar reads), 1M-entry archive",
                        value=_median(mine, lambda t: t.reads),
                        unit="requests",
                        baseline=_median(theirs, lambda t: t.reads),
                        baseline_name=f"the same page of a {SMALL}-entry archive",
                        goal="<= 2" if state == "cold" else "== 0",
                        machine=machine,
                        with_ratio=False,
                    )
                )
        if walk:
            figures.append(
                Figure(
                    figure=f"artifacts_tree page 1 of the {label}, 1M entries: the bucket walk "
                    "(indexes without a tree section)",
                    value=walk_seconds(big, folder),
                    unit="s",
                    baseline=None,
                    baseline_name="-",
                    goal=None,
                    machine=machine,
                )
            )
    return figures


def _machine(workdir: Path) -> str:
    return f"{host_description()}, in-process, the sidecar a local file under {workdir}"


def main(argv: list[str]) -> int:
    if argv:
        workdir = Path(argv[0])
        workdir.mkdir(parents=True, exist_ok=True)
        print(render_table(listing_figures(workdir, _machine(workdir))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(render_table(listing_figures(Path(tmp), _machine(Path(tmp)))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
