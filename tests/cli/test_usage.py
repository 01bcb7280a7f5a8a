"""`artifactsvc usage [PROJECT] [--top N] [--json]` as the real command on SQLite and
PostgreSQL: the sums per project and type, the largest archives, what expires within the
week (not what the keep-latest lock holds, not what has already expired, not what expires
later), one project by id or path, and plain text when stdout is not a terminal."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from artifactsvc.models import format_time, utcnow
from tests.support.apps import import_document
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import run_artifactsvc
from tests.support.terminal import run_on_terminal
from tests.support.zips import Member, make_zip, noise

NOW = utcnow()


def at(delta: timedelta) -> str:
    stamp = format_time(NOW + delta)
    assert stamp is not None
    return stamp


def archive(size: int, seed: int) -> bytes:
    return make_zip([Member("blob.bin", noise(size, seed))])


JUNIT = gzip.compress(b'<testsuites tests="1"/>\n', mtime=0)
# job id -> (archive bytes, expire_at)
ARCHIVES = {
    100: (archive(3000, 1), at(timedelta(days=2))),  # older success on master: expires
    110: (archive(5000, 2), at(timedelta(days=1))),  # newest success on master: locked
    120: (archive(1000, 3), at(timedelta(days=10))),  # beyond the week
    121: (archive(2000, 4), at(timedelta(days=-1))),  # expired already, not yet swept
    200: (archive(4000, 5), None),  # never
}
SIZE = {job_id: len(data) for job_id, (data, _) in ARCHIVES.items()}


def document(directory: Path) -> dict[str, Any]:
    for job_id, (data, _) in ARCHIVES.items():
        (directory / f"{job_id}.zip").write_bytes(data)
    (directory / "junit.xml.gz").write_bytes(JUNIT)

    def artifacts(job_id: int) -> list[dict[str, Any]]:
        expire_at = ARCHIVES[job_id][1]
        found: dict[str, Any] = {"file_type": "archive", "path": f"{job_id}.zip"}
        if expire_at is not None:
            found["expire_at"] = expire_at
        return [found]

    junit = {"file_type": "junit", "path": "junit.xml.gz", "expire_at": at(timedelta(days=3))}
    return {
        "users": [user(1, "root", admin=True, tokens=("tok-root",))],
        "projects": [project(1, "team/app", "private"), project(2, "team/lib", "private")],
        "pipelines": [
            pipeline(10, 1, ref="master"),
            pipeline(11, 1, ref="master"),
            pipeline(12, 1, ref="feature", status="failed"),
            pipeline(20, 2, ref="main", status="failed"),
        ],
        "jobs": [
            job(100, 10, name="build", artifacts=[*artifacts(100), junit]),
            job(110, 11, name="build", artifacts=artifacts(110)),
            job(120, 12, "failed", name="build", artifacts=artifacts(120)),
            job(121, 12, "failed", name="docs", artifacts=artifacts(121)),
            job(200, 20, "failed", name="compile", artifacts=artifacts(200)),
        ],
    }


@pytest.fixture
def seeded(database_url: str, tmp_path: Path) -> dict[str, str]:
    import_document(database_url, document(tmp_path), tmp_path)
    return {
        "ARTIFACTSVC_DATABASE_URL": database_url,
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
    }


def usage(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    result = run_artifactsvc("usage", *args, "--json", env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    found: dict[str, Any] = json.loads(result.stdout)
    return found


def test_bytes_are_summed_per_project_and_type(seeded: dict[str, str], tmp_path: Path) -> None:
    report = usage(seeded, tmp_path)

    app = [SIZE[100], SIZE[110], SIZE[120], SIZE[121]]
    assert [(r["path_with_namespace"], r["file_type"], r["artifacts"], r["bytes"])
            for r in report["projects"]] == [
        ("team/app", "archive", 4, sum(app)),
        ("team/app", "junit", 1, len(JUNIT)),
        ("team/lib", "archive", 1, SIZE[200]),
    ]  # fmt: skip
    assert report["total_bytes"] == sum(SIZE.values()) + len(JUNIT)


def test_the_largest_archives_come_first_and_top_limits_them(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    everything = usage(seeded, tmp_path)["largest"]
    top_two = usage(seeded, tmp_path, "--top", "2")["largest"]

    by_size = sorted(ARCHIVES, key=lambda job_id: -SIZE[job_id])
    assert [a["job_id"] for a in everything] == by_size
    assert [a["job_id"] for a in top_two] == by_size[:2]
    assert {a["file_type"] for a in everything} == {"archive"}
    assert top_two[0] == {
        "project_id": 1, "path_with_namespace": "team/app", "job_id": 110, "job_name": "build",
        "file_type": "archive", "size": SIZE[110], "expire_at": ARCHIVES[110][1],
        "created_at": top_two[0]["created_at"],
    }  # fmt: skip


def test_what_expires_within_the_week_leaves_out_locked_past_and_later_ones(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    expiring = usage(seeded, tmp_path)["expiring"]

    # 110 is in master's newest successful pipeline (kept), 121 already expired, 120 in 10
    # days, 200 never: of the rest, soonest first.
    assert [(a["job_id"], a["file_type"]) for a in expiring] == [
        (100, "archive"),
        (100, "junit"),
    ]


def test_without_keep_latest_the_locked_archive_expires_too(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    env = {**seeded, "ARTIFACTSVC_KEEP_LATEST_ARTIFACTS": "false"}

    expiring = usage(env, tmp_path)["expiring"]

    assert [a["job_id"] for a in expiring] == [110, 100, 100]


@pytest.mark.parametrize("name", ["2", "team/lib", "TEAM/LIB"])
def test_one_project_by_id_or_path(seeded: dict[str, str], tmp_path: Path, name: str) -> None:
    report = usage(seeded, tmp_path, name)

    assert report["project"] == name
    assert [r["project_id"] for r in report["projects"]] == [2]
    assert [a["job_id"] for a in report["largest"]] == [200]
    assert report["expiring"] == []
    assert report["total_bytes"] == SIZE[200]


def test_an_unknown_project_is_one_line_and_exit_status_1(
    seeded: dict[str, str], tmp_path: Path
) -> None:
    result = run_artifactsvc("usage", "team/none", env=seeded, cwd=tmp_path)

    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "artifactsvc usage: project not found: team/none\n"


def test_a_bad_top_is_a_usage_error(seeded: dict[str, str], tmp_path: Path) -> None:
    result = run_artifactsvc("usage", "--top", "0", env=seeded, cwd=tmp_path)

    assert result.returncode == 2 and "--top" in result.stderr


def test_off_a_terminal_the_report_is_plain_lines(seeded: dict[str, str], tmp_path: Path) -> None:
    result = run_artifactsvc("usage", "--top", "1", env=seeded, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "stored, by project and artifact type:",
        f"team/app  archive  4 artifacts  {SIZE[100] + SIZE[110] + SIZE[120] + SIZE[121]} bytes",
        f"team/app  junit  1 artifacts  {len(JUNIT)} bytes",
        f"team/lib  archive  1 artifacts  {SIZE[200]} bytes",
        f"total  6 artifacts  {sum(SIZE.values()) + len(JUNIT)} bytes",
        "",
        "largest archives:",
        f"team/app  job 110 build  archive  {SIZE[110]} bytes  {ARCHIVES[110][1]}",
        "",
        "expiring within 7 days:",
        f"team/app  job 100 build  archive  {SIZE[100]} bytes  {ARCHIVES[100][1]}",
        f"team/app  job 100 build  junit  {len(JUNIT)} bytes  {at(timedelta(days=3))}",
    ]
    assert "\x1b" not in result.stdout


def test_on_a_terminal_the_report_is_a_table(seeded: dict[str, str], tmp_path: Path) -> None:
    shown = run_on_terminal("usage", env=seeded, cwd=tmp_path, stdout_on_terminal=True)

    assert shown.returncode == 0, shown.terminal
    text = shown.terminal.decode()
    assert "Stored, by project and artifact type" in text and "Largest archives" in text
    assert "│" in text or "┃" in text  # drawn by rich, not the plain lines
    assert "team/lib" in text and "job 100 build" not in text
