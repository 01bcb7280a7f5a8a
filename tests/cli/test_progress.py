"""Progress bars of long commands (import, expire, gc): drawn on stderr when it is a
terminal (a real pty here), absent when it is a pipe or a file (cron, CI, Kubernetes) and
with ARTIFACTSVC_LOG_FORMAT=json; stdout carries the same one result line either way."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from artifactsvc.models import format_time, utcnow
from tests.support.apps import import_document
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import run_artifactsvc
from tests.support.terminal import run_on_terminal
from tests.support.zips import STORED, Member, make_zip, noise

EXPIRED = 12
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def shown_text(raw: bytes) -> str:
    """What the terminal displays, escape sequences left out."""
    return ANSI.sub(b"", raw).decode(errors="replace")


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "ARTIFACTSVC_DATABASE_URL": sqlite_url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
    }


def expired_world(directory: Path) -> dict[str, Any]:
    """EXPIRED jobs on a failed pipeline (no keep-latest lock), each with an archive that
    expired an hour ago."""
    past = format_time(utcnow() - timedelta(hours=1))
    jobs = []
    for n in range(EXPIRED):
        (directory / f"{n}.zip").write_bytes(make_zip([Member("f.txt", f"{n}\n".encode())]))
        artifact = {"file_type": "archive", "path": f"{n}.zip", "expire_at": past}
        jobs.append(job(100 + n, 10, "failed", name=f"j{n}", artifacts=[artifact]))
    return {
        "users": [user(1, "root", admin=True)],
        "projects": [project(1, "ops/app", "private")],
        "pipelines": [pipeline(10, 1, ref="main", status="failed")],
        "jobs": jobs,
    }


@pytest.fixture
def expired(env: dict[str, str], sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    import_document(sqlite_url, expired_world(tmp_path), tmp_path)
    return env


RESULT = f"expired {EXPIRED} artifacts ({{}} bytes); 0 objects left for gc\n"


def expired_bytes(tmp_path: Path) -> int:
    return sum((tmp_path / f"{n}.zip").stat().st_size for n in range(EXPIRED))


def test_expire_on_a_terminal_draws_a_progress_bar(expired: dict[str, str], tmp_path: Path) -> None:
    run = run_on_terminal("expire", env=expired, cwd=tmp_path)

    assert run.returncode == 0, run.terminal
    text = shown_text(run.terminal)
    assert "expire" in text and f"{EXPIRED} artifacts" in text
    assert "━" in text  # rich's bar
    assert ANSI.search(run.terminal)  # drawn in place, with cursor movements
    assert run.stdout.decode() == RESULT.format(expired_bytes(tmp_path))


def test_expire_into_a_pipe_prints_its_result_line_only(
    expired: dict[str, str], tmp_path: Path
) -> None:
    result = run_artifactsvc("expire", env=expired, cwd=tmp_path)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == RESULT.format(expired_bytes(tmp_path))


def test_json_logs_get_no_bar_even_on_a_terminal(expired: dict[str, str], tmp_path: Path) -> None:
    run = run_on_terminal("expire", env={**expired, "ARTIFACTSVC_LOG_FORMAT": "json"}, cwd=tmp_path)

    assert run.returncode == 0
    assert run.terminal == b""
    line = json.loads(run.stdout)
    assert (line["command"], line["deleted"]) == ("expire", EXPIRED)


def test_import_of_a_large_archive_shows_bytes_on_a_terminal(
    env: dict[str, str], tmp_path: Path
) -> None:
    size = 6 * 1024 * 1024
    (tmp_path / "big.zip").write_bytes(make_zip([Member("big.bin", noise(size, 1), STORED)]))
    document = {
        "users": [user(1, "root", admin=True)],
        "projects": [project(1, "ops/app", "private")],
        "pipelines": [pipeline(10, 1, ref="main")],
        "jobs": [job(100, 10, name="big", artifacts=[{"path": "big.zip"}])],
    }
    (tmp_path / "big.json").write_text(json.dumps(document))

    run = run_on_terminal("import", "big.json", env=env, cwd=tmp_path)
    again = run_artifactsvc("import", "big.json", env=env, cwd=tmp_path)

    assert run.returncode == 0, run.terminal
    text = shown_text(run.terminal)
    assert "import big.json" in text and "6.3/6.3 MB" in text  # rich's decimal units
    summary = "imported 1 users, 1 projects, 1 pipelines, 1 jobs, 1 artifacts\n"
    assert run.stdout.decode() == summary
    assert (again.returncode, again.stderr, again.stdout) == (0, "", summary)


def test_gc_on_a_terminal_counts_the_objects_it_checked(
    expired: dict[str, str], tmp_path: Path
) -> None:
    run = run_on_terminal("gc", env=expired, cwd=tmp_path)
    piped = run_artifactsvc("gc", env=expired, cwd=tmp_path)

    assert run.returncode == 0, run.terminal
    # Each archive is two objects (the zip and its index), all named by a row.
    assert f"{2 * EXPIRED} objects checked" in shown_text(run.terminal)
    assert run.stdout == b"removed 0 orphaned objects; aborted 0 stale uploads\n"
    assert (piped.stderr, piped.stdout) == ("", run.stdout.decode())
