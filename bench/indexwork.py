"""One measured job per process, so VmHWM is that job's own peak: `python -m bench.indexwork`.

    make ARCHIVE ENTRIES       build the many-entries archive (stream_zip holds its central
                               directory in memory, so not in the benchmark's own process)
    build ARCHIVE SPILL_DIR    ziprange.build_index over FileSource, the sidecar in SPILL_DIR
    flat ARCHIVE SPILL_DIR     the same without the tree section (the index as it was before)
    parse ARCHIVE              ziprange.iter_entries over the central directory, nothing kept
    zipfile ARCHIVE            zipfile.ZipFile(ARCHIVE): the whole central directory in memory

`build`, `flat`, `parse` and `zipfile` print one JSON object: seconds, entries, rss_before and
peak (bytes).
Both import the same modules first, so the interpreter's own footprint is the same in each.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from artifactsvc.ziprange import FileSource, build_index, iter_entries, locate_central_directory
from bench.archives import build_many_entries_archive
from bench.procstat import memory


def _build(archive: Path, spill_dir: Path, *, tree: bool = True) -> int:
    with tempfile.TemporaryFile(dir=spill_dir) as out:
        directory = build_index(
            FileSource(archive), out, etag="bench", spill_dir=str(spill_dir), tree=tree
        )
    return directory.entry_count


def _parse(archive: Path) -> int:
    source = FileSource(archive, chunk_size=1 << 20)
    found = locate_central_directory(source)
    chunks = source.stream(found.cd_offset, found.cd_size)
    return sum(1 for _ in iter_entries(chunks, found.entry_count))


def _zipfile(archive: Path) -> int:
    with zipfile.ZipFile(archive) as opened:
        return len(opened.infolist())


def main(argv: list[str]) -> int:
    mode, archive = argv[0], Path(argv[1])
    if mode == "make":
        build_many_entries_archive(archive, entries=int(argv[2]))
        return 0
    before = memory().rss
    start = time.perf_counter()
    if mode == "build":
        entries = _build(archive, Path(argv[2]))
    elif mode == "flat":
        entries = _build(archive, Path(argv[2]), tree=False)
    elif mode == "parse":
        entries = _parse(archive)
    elif mode == "zipfile":
        entries = _zipfile(archive)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    seconds = time.perf_counter() - start
    found = {"seconds": seconds, "entries": entries, "rss_before": before, "peak": memory().peak}
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
