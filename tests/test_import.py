"""`artifactsvc import FILE` (CONTRACT section 3) run as the real command.

A broken file is rejected as a whole: exit code 1, one line on stderr naming the first bad
field, no traceback, and nothing stored (checked by reading the database afterwards).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import app_client, app_settings
from tests.support.database import execute, postgres_schema, query
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import REPO, run_artifactsvc
from tests.support.zips import sample_zip

TABLES = (
    "users", "tokens", "projects", "members", "job_token_allowlist", "pipelines", "jobs",
    "job_traces", "job_trace_chunks",
)  # fmt: skip
SAMPLE = REPO / "examples" / "sample.json"


def snapshot(database_url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every metadata table, read straight from the database."""
    return {
        table: sorted(
            (tuple(row.values()) for row in query(database_url, f"SELECT * FROM {table}")),
            key=repr,
        )
        for table in TABLES
    }


def import_file(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    return run_artifactsvc(
        "import",
        str(path),
        env={
            "ARTIFACTSVC_DATABASE_URL": database_url,
            "ARTIFACTSVC_STORAGE_URL": str(path.parent / "objects"),
        },
        cwd=path.parent,
    )


def write(directory: Path, document: Any, name: str = "import.json") -> Path:
    path = directory / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return path


def good_document() -> dict[str, Any]:
    return {
        "users": [
            user(1, "root", admin=True, tokens=("glpat-root",)),
            user(2, "alice", tokens=("glpat-alice",)),
        ],
        "projects": [
            project(1, "foo/bar", "private", {"alice": 30}, ci_job_token_allowlist=[2]),
            project(2, "foo/other", "internal"),
        ],
        "pipelines": [pipeline(6, 1)],
        "jobs": [
            job(7, 6, "failed", user="root", token="job-7-token", trace="log\n"),
            job(8, 6, "running", token="job-8-token"),
            job(9, 6, "pending", kind="bridge"),
        ],
    }


def assert_rejected(result: subprocess.CompletedProcess[str], field: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    assert "imported" not in result.stdout


def bad(mutate: Any) -> dict[str, Any]:
    document = good_document()
    mutate(document)
    return document


# (id, file content, the field the one stderr line must name). Each bad field comes after
# valid users, projects and pipelines, so "nothing stored" is a real all-or-nothing check.
BAD_FILES: list[tuple[str, Any, str]] = [
    ("job-status", bad(lambda d: d["jobs"][1].update(status="bogus")), "jobs[1].status"),
    ("job-pipeline", bad(lambda d: d["jobs"][2].update(pipeline_id=77)), "jobs[2].pipeline_id"),
    ("job-kind", bad(lambda d: d["jobs"][0].update(kind="pipeline")), "jobs[0].kind"),
    ("job-name-missing", bad(lambda d: d["jobs"][1].pop("name")), "jobs[1].name"),
    ("job-user", bad(lambda d: d["jobs"][0].update(user="nobody")), "jobs[0].user"),
    ("job-tag-list", bad(lambda d: d["jobs"][0].update(tag_list=[1])), "jobs[0].tag_list"),
    ("job-nul", bad(lambda d: d["jobs"][1].update(name="a\u0000b")), "jobs[1].name"),
    ("job-token-twice", bad(lambda d: d["jobs"][1].update(token="job-7-token")), "jobs[1].token"),
    (
        "job-artifact-path",
        bad(lambda d: d["jobs"][0].update(artifacts=[{"path": "missing.zip"}])),
        "jobs[0].artifacts[0].path",
    ),
    (
        "job-artifact-type",
        bad(lambda d: d["jobs"][0].update(artifacts=[{"file_type": "x", "path": "a.zip"}])),
        "jobs[0].artifacts[0].file_type",
    ),
    ("user-id-text", bad(lambda d: d["users"][1].update(id="2")), "users[1].id"),
    ("user-id-zero", bad(lambda d: d["users"][1].update(id=0)), "users[1].id"),
    ("user-id-huge", bad(lambda d: d["users"][1].update(id=2**63)), "users[1].id"),
    ("user-admin", bad(lambda d: d["users"][1].update(admin="yes")), "users[1].admin"),
    ("user-username", bad(lambda d: d["users"][1].pop("username")), "users[1].username"),
    ("user-token-empty", bad(lambda d: d["users"][1].update(tokens=[""])), "users[1].tokens[0]"),
    (
        "user-token-shared",
        bad(lambda d: d["users"][1].update(tokens=["glpat-root"])),
        "users[1].tokens[0]",
    ),
    (
        "project-visibility",
        bad(lambda d: d["projects"][1].update(visibility="secret")),
        "projects[1].visibility",
    ),
    (
        "project-path",
        bad(lambda d: d["projects"][1].update(path_with_namespace="noslash")),
        "projects[1].path_with_namespace",
    ),
    (
        "member-unknown",
        bad(lambda d: d["projects"][0]["members"].append({"username": "ghost"})),
        "projects[0].members[1].username",
    ),
    (
        "member-level",
        bad(lambda d: d["projects"][0]["members"][0].update(access_level=35)),
        "projects[0].members[0].access_level",
    ),
    (
        "allowlist",
        bad(lambda d: d["projects"][0].update(ci_job_token_allowlist=["x"])),
        "projects[0].ci_job_token_allowlist[0]",
    ),
    ("pipeline-project", bad(lambda d: d["pipelines"][0].update(project_id=9)), "pipelines[0]"),
    (
        "pipeline-time",
        bad(lambda d: d["pipelines"][0].update(created_at="yesterday")),
        "pipelines[0].created_at",
    ),
    ("pipeline-iid-huge", bad(lambda d: d["pipelines"][0].update(iid=2**63)), "pipelines[0].iid"),
    (
        "time-out-of-range",
        bad(lambda d: d["users"][1].update(created_at="0001-01-01T00:00:00+01:00")),
        "users[1].created_at",
    ),
    (
        "allowlist-huge",
        bad(lambda d: d["projects"][0].update(ci_job_token_allowlist=[2**63])),
        "projects[0].ci_job_token_allowlist[0]",
    ),
    ("section-type", bad(lambda d: d.update(jobs={})), "jobs"),
    ("unknown-section", bad(lambda d: d.update(runners=[])), "runners"),
    ("top-level", "[]", "top level"),
    ("not-json", '{"users": [', "not valid JSON"),
    ("nested-too-deep", "[" * 100_000 + "]" * 100_000, "not valid JSON"),
    (
        "coverage-nan",
        json.dumps(good_document()).replace('"log\\n"', '"log", "coverage": NaN'),
        "jobs[0].coverage",
    ),  # fmt: skip
    (
        "coverage-infinity",
        json.dumps(good_document()).replace('"log\\n"', '"log", "coverage": Infinity'),
        "jobs[0].coverage",
    ),  # fmt: skip
]
BAD_FILES.append(
    (
        "coverage-huge",
        json.dumps(good_document()).replace('"log\\n"', '"log", "coverage": 1' + "0" * 400),
        "jobs[0].coverage",
    )
)
# The cases where the two databases could disagree (text, constraints), run on both.
ON_BOTH = ("job-status", "job-nul", "job-token-twice", "user-token-shared", "coverage-nan")


@pytest.mark.parametrize(("content", "field"), [pytest.param(c, f, id=i) for i, c, f in BAD_FILES])
def test_a_broken_file_names_its_first_bad_field_and_imports_nothing(
    sqlite_url: str, tmp_path: Path, content: Any, field: str
) -> None:
    (tmp_path / "a.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)  # exists, for the type case

    result = import_file(sqlite_url, write(tmp_path, content))

    assert_rejected(result, field)
    assert all(rows == [] for rows in snapshot(sqlite_url).values())


@pytest.mark.parametrize(
    ("content", "field"), [pytest.param(c, f, id=i) for i, c, f in BAD_FILES if i in ON_BOTH]
)
def test_a_broken_file_leaves_stored_rows_untouched(
    database_url: str, tmp_path: Path, content: Any, field: str
) -> None:
    assert import_file(database_url, write(tmp_path, good_document(), "good.json")).returncode == 0
    before = snapshot(database_url)
    # The broken file also renames a stored user: that change must not survive either.
    if isinstance(content, dict):
        content["users"][0]["name"] = "Renamed"

    result = import_file(database_url, write(tmp_path, content))

    assert_rejected(result, field)
    assert snapshot(database_url) == before


def test_a_missing_file_is_one_line(sqlite_url: str, tmp_path: Path) -> None:
    result = import_file(sqlite_url, tmp_path / "nope.json")

    assert_rejected(result, "nope.json")


def test_a_row_that_contradicts_stored_rows_imports_nothing(
    database_url: str, tmp_path: Path
) -> None:
    assert import_file(database_url, write(tmp_path, good_document(), "good.json")).returncode == 0
    before = snapshot(database_url)
    clash = {
        "users": [user(3, "carol")],
        # project 3 takes the path that project 1 already has
        "projects": [project(3, "foo/bar")],
    }

    result = import_file(database_url, write(tmp_path, clash))

    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert snapshot(database_url) == before


def test_the_sample_file_imports_and_is_served(database_url: str, tmp_path: Path) -> None:
    shutil.copy(SAMPLE, tmp_path / "sample.json")
    shutil.copy(SAMPLE.parent / "artifacts.zip", tmp_path / "artifacts.zip")

    result = import_file(database_url, tmp_path / "sample.json")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "imported 2 users, 1 projects, 2 pipelines, 5 jobs, 1 artifacts"
    )
    with app_client(app_settings(database_url, tmp_path / "objects")) as client:
        alice = {"PRIVATE-TOKEN": "glpat-alice-example-token"}
        listed = client.get("/api/v4/projects/foo%2Fbar/jobs", headers=alice)
        trace = client.get("/api/v4/projects/1/jobs/7/trace", headers=alice)
        bridges = client.get("/api/v4/projects/1/pipelines/6/bridges", headers=alice)
    assert [j["id"] for j in listed.json()] == [11, 9, 8, 7]
    assert trace.text == "Running with gitlab-runner\n$ rake teaspoon\nfailed\n"
    assert [b["id"] for b in bridges.json()] == [10]
    # The sample's archive went through the upload path: indexed at import, like an upload.
    [row] = query(database_url, "SELECT job_id, file_type, size, index_key FROM artifacts")
    assert (row["job_id"], row["file_type"]) == (8, "archive")
    assert row["size"] == (SAMPLE.parent / "artifacts.zip").stat().st_size
    assert row["index_key"] is not None


def test_importing_twice_stores_the_same_rows(database_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, good_document())

    first = import_file(database_url, path)
    once = snapshot(database_url)
    second = import_file(database_url, path)

    assert (first.returncode, second.returncode) == (0, 0)
    assert first.stdout == second.stdout
    assert snapshot(database_url) == once
    assert len(once["jobs"]) == 3 and len(once["tokens"]) == 2


def test_reimport_updates_rows_in_place(database_url: str, tmp_path: Path) -> None:
    assert import_file(database_url, write(tmp_path, good_document())).returncode == 0
    changed = good_document()
    changed["jobs"][1].update(status="success", finished_at="2015-12-24T18:00:00.000Z")
    changed["projects"][1]["visibility"] = "public"
    changed["jobs"][0]["trace"] = "new\n"  # shorter: nothing of the old log may stay

    assert import_file(database_url, write(tmp_path, changed, "changed.json")).returncode == 0

    rows = snapshot(database_url)
    assert len(rows["jobs"]) == 3 and len(rows["projects"]) == 2
    with app_client(app_settings(database_url, tmp_path / "objects")) as client:
        root = {"PRIVATE-TOKEN": "glpat-root"}
        assert client.get("/api/v4/projects/1/jobs/8", headers=root).json()["status"] == "success"
        assert client.get("/api/v4/projects/2").json()["visibility"] == "public"
        assert client.get("/api/v4/projects/1/jobs/7/trace", headers=root).text == "new\n"
    assert query(database_url, "SELECT size FROM job_traces WHERE job_id = 7") == [{"size": 4}]


def test_tokens_are_stored_hashed(database_url: str, tmp_path: Path) -> None:
    assert import_file(database_url, write(tmp_path, good_document())).returncode == 0

    dump = repr(snapshot(database_url))

    for secret in ("glpat-root", "glpat-alice", "job-7-token", "job-8-token"):
        assert secret not in dump
    with app_client(app_settings(database_url, tmp_path / "objects")) as client:
        me = client.get("/api/v4/user", headers={"PRIVATE-TOKEN": "glpat-alice"})
    assert me.json()["username"] == "alice"


def test_references_may_point_at_stored_rows(database_url: str, tmp_path: Path) -> None:
    assert import_file(database_url, write(tmp_path, good_document())).returncode == 0
    later = {
        "projects": [project(3, "foo/later", "private", {"alice": 20})],  # alice is stored
        "pipelines": [pipeline(60, 3)],
        "jobs": [job(70, 6, "success", user="root"), job(71, 60, "failed")],  # pipeline 6 stored
    }

    result = import_file(database_url, write(tmp_path, later, "later.json"))

    assert result.returncode == 0, result.stderr
    with app_client(app_settings(database_url, tmp_path / "objects")) as client:
        alice = {"PRIVATE-TOKEN": "glpat-alice"}
        listed = client.get("/api/v4/projects/3/jobs", headers=alice).json()
        found = client.get("/api/v4/projects/1/jobs/70", headers=alice).json()
    assert [j["id"] for j in listed] == [71]
    assert found["user"]["username"] == "root"


# -- artifact paths stay inside the import file's folder (issue item 10) -----------------------


def with_artifact(path: str) -> dict[str, Any]:
    document = good_document()
    document["jobs"][0]["artifacts"] = [{"file_type": "archive", "path": path}]
    return document


def outside_paths(folder: Path) -> list[tuple[str, str]]:
    """(case, path as written in the file) for a readable zip outside `folder`, named every
    way that leads there; `folder` gets the symlinks the cases need."""
    outside = folder.parent / f"{folder.name}-outside"
    outside.mkdir()
    secret = outside / "secret.zip"
    secret.write_bytes(sample_zip())
    (folder / "link.zip").symlink_to(secret)
    (folder / "linked-dir").symlink_to(outside, target_is_directory=True)
    return [
        ("dot-dot", f"../{outside.name}/secret.zip"),
        ("dot-dot-inside-first", f"sub/../../{outside.name}/secret.zip"),
        ("absolute", str(secret)),
        ("symlinked-file", "link.zip"),
        ("symlinked-folder", "linked-dir/secret.zip"),
    ]


@pytest.mark.parametrize(
    "case",
    ["dot-dot", "dot-dot-inside-first", "absolute", "symlinked-file", "symlinked-folder"],
)
def test_an_artifact_path_outside_the_import_folder_is_refused(
    sqlite_url: str, tmp_path: Path, case: str
) -> None:
    folder = tmp_path / "import"
    folder.mkdir()
    path = dict(outside_paths(folder))[case]

    result = import_file(sqlite_url, write(folder, with_artifact(path)))

    assert_rejected(result, "jobs[0].artifacts[0].path: outside the import file's folder")
    assert all(rows == [] for rows in snapshot(sqlite_url).values())
    assert not (folder / "objects").exists() or not any((folder / "objects").rglob("*.zip"))


def test_an_artifact_path_inside_the_import_folder_is_read(sqlite_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "import"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "a.zip").write_bytes(sample_zip())
    (folder / "inner-link.zip").symlink_to(folder / "sub" / "a.zip")

    for path in ("sub/a.zip", "sub/../sub/a.zip", "inner-link.zip"):
        result = import_file(sqlite_url, write(folder, with_artifact(path)))

        assert result.returncode == 0, (path, result.stderr)


def test_an_import_analyzes_its_own_tables_and_no_others(tmp_path: Path) -> None:
    """Statistics right after an import (keyset pages need them), for the tables it fills
    only: a bare ANALYZE took every table of the database, another schema's too, and
    deadlocked with that schema's DROP (make test, two workers)."""
    with postgres_schema() as ours, postgres_schema() as theirs:
        execute(theirs, "CREATE TABLE bystander (id BIGINT PRIMARY KEY)")
        execute(theirs, "INSERT INTO bystander SELECT generate_series(1, 100)")
        assert import_file(ours, write(tmp_path, good_document())).returncode == 0

        def analyzed(url: str) -> dict[str, bool]:
            found = query(
                url,
                "SELECT relname, last_analyze IS NOT NULL AS done FROM pg_stat_user_tables"
                " WHERE schemaname = current_schema()",
            )
            return {row["relname"]: row["done"] for row in found}

        # Statistics reach pg_stat_user_tables when the importing backend flushes them.
        deadline = time.monotonic() + 10
        while not analyzed(ours).get("jobs") and time.monotonic() < deadline:
            time.sleep(0.1)
        ours_done = analyzed(ours)
        assert all(ours_done[table] for table in ("users", "projects", "pipelines", "jobs"))
        assert analyzed(theirs) == {"bystander": False}


def test_an_import_leaves_sqlite_statistics(sqlite_url: str, tmp_path: Path) -> None:
    assert import_file(sqlite_url, write(tmp_path, good_document())).returncode == 0
    tables = {row["tbl"] for row in query(sqlite_url, "SELECT tbl FROM sqlite_stat1")}
    assert {"jobs", "pipelines"} <= tables
