"""The artifact browser's page on a huge archive: `python -m bench.pages`.

Times `GET /<project>/-/jobs/<id>/artifacts/browse` (the first page of the archive's root,
and of one small folder deep inside) on a 1,000,000-entry archive against the same page on a
10-entry one, on the same server in the same run: a real `artifactsvc serve` over SQLite and
local files, reading the archives' indexes as any listing does. The page's cost should not
grow with the archive (goal: at most 5 times the small archive's), which the listing's
per-folder index is meant to give; until then the 1M figure measures the full scan.

Figures are printed as the bench table and written to `bench/results/pages.json` (BENCH.md's
format; `make bench` writes `latest.json`, untouched here).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.figures import Figure
from bench.indexing import make_archive
from bench.results import render_table, write_results
from bench.servers import service_process
from bench.world import SHA, host_description
from tests.support.apps import app_settings, import_document
from tests.support.zips import Member, make_zip

RESULTS = Path(__file__).resolve().parent / "results" / "pages.json"
PROJECT = "bench/pages"
BIG_JOB, SMALL_JOB = 201, 202


def deep_folder(entries: int) -> str:
    """A folder in the middle of bench.archives' many-entries archive, whose names are
    pkgNNNN/modNN/file-NNNNNNN.txt: 1,000 files per pkg, 10 per mod."""
    middle = entries // 2
    return f"pkg{middle // 1000:04d}/mod{middle // 10 % 100:02d}"


def _log(message: str) -> None:
    print(f"[bench.pages] {message}", file=sys.stderr, flush=True)


def _document(big: Path, small: Path) -> dict[str, object]:
    def job(job_id: int, archive: Path) -> dict[str, object]:
        return {
            "id": job_id, "pipeline_id": 20, "name": f"job-{job_id}", "stage": "test",
            "status": "success", "artifacts": [{"file_type": "archive", "path": archive.name}],
        }  # fmt: skip

    return {
        "users": [],
        "projects": [{"id": 1, "path_with_namespace": PROJECT, "visibility": "public"}],
        "pipelines": [
            {"id": 20, "iid": 1, "project_id": 1, "ref": "main", "sha": SHA, "status": "success"}
        ],
        "jobs": [job(BIG_JOB, big), job(SMALL_JOB, small)],
    }


def _timed(client: httpx.Client, path: str, rounds: int) -> float:
    """The median of `rounds` page loads, after one that warms the caches (seconds)."""
    times = []
    for n in range(rounds + 1):
        start = time.perf_counter()
        response = client.get(path)
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise RuntimeError(f"GET {path}: {response.status_code} {response.text[:300]}")
        if n:
            times.append(elapsed)
    return statistics.median(times)


def measure(workdir: Path, *, entries: int, rounds: int) -> list[Figure]:
    big, small = workdir / "big.zip", workdir / "small.zip"
    _log(f"building a {entries:,}-entry archive")
    make_archive(big, entries)
    small.write_bytes(make_zip([Member(f"file-{n}.txt", b"%d\n" % n) for n in range(10)]))
    _log("importing (indexes both archives)")
    database_url = f"sqlite:///{workdir / 'meta.db'}"
    started = time.perf_counter()
    # The settings the server reads with; the big archive is larger than MAX_ARTIFACT_SIZE's
    # default.
    settings = app_settings(database_url, workdir / "objects", max_artifact_size=8 << 30)
    import_document(settings, _document(big, small), workdir)
    _log(f"imported in {time.perf_counter() - started:.1f}s; timing the pages")
    env = {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": str(workdir / "objects"),
    }
    machine = f"{host_description()}, artifactsvc: 1 uvicorn worker, SQLite, local files"
    with (
        service_process(env, cwd=workdir) as server,
        httpx.Client(base_url=server.base_url, timeout=600) as client,
    ):
        browse = f"/{PROJECT}/-/jobs/{{job}}/artifacts/browse"
        small_root = _timed(client, browse.format(job=SMALL_JOB), rounds)
        big_root = _timed(client, browse.format(job=BIG_JOB), rounds)
        big_deep = _timed(client, f"{browse.format(job=BIG_JOB)}/{deep_folder(entries)}", rounds)
    baseline = "the same page on a 10-entry archive, same server, same run"
    return [
        Figure(
            f"browse page, archive root ({entries:,} entries,"
            f" {-(-entries // 1000):,} folders at the root)",
            big_root,
            "s",
            small_root,
            baseline,
            "<= 5",
            machine,
        ),
        Figure(
            f"browse page, a 10-file folder deep in the {entries:,}-entry archive",
            big_deep,
            "s",
            small_root,
            baseline,
            "<= 5",
            machine,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pages", description=__doc__)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5, help="timed page loads of each")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="artifactsvc-bench-pages-", dir=args.workdir))
    try:
        figures = measure(workdir, entries=args.entries, rounds=args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(render_table(figures))
    write_results(figures, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
