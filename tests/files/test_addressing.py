"""Addressing single files (CONTRACT 5) as real clients do, against a real uvicorn process.

python-gitlab 8 (`job.artifact`, `project.artifacts.raw`), @gitbeaker/rest's fully encoded
paths, refs holding `/` raw or encoded, and the `raw` split rule.
"""

from __future__ import annotations

import gitlab
import pytest
from gitlab import exceptions as exc

from tests.files.conftest import World
from tests.files.world import (
    FEATURE_FILES,
    MAIN_FILES,
    ROOT_TOKEN,
    SPLIT2_A_RAW,
    SPLIT_A,
    SPLIT_A_RAW,
)
from tests.support.wire import raw_request

P = "/api/v4/projects/1"
# What python-gitlab (requests) can address: `?` would start the query, and requests
# "requotes" a `%` (`%41` becomes `A`; an invalid escape re-encodes the whole URL, project
# path included), so names with either stay out.
GITLAB_NAMES = [name for name in MAIN_FILES if "?" not in name and "%" not in name]


@pytest.fixture(scope="module")
def gl(server: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server, private_token=ROOT_TOKEN, timeout=30)


@pytest.fixture(scope="module")
def anonymous(server: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server, timeout=30)


def test_python_gitlab_job_artifact_reads_every_name(gl: gitlab.Gitlab) -> None:
    job = gl.projects.get(1, lazy=True).jobs.get(11, lazy=True)

    for name in GITLAB_NAMES:
        assert job.artifact(name) == MAIN_FILES[name][0], name


def test_python_gitlab_artifacts_raw_reads_every_name(gl: gitlab.Gitlab) -> None:
    artifacts = gl.projects.get("files/public", lazy=True).artifacts

    for name in GITLAB_NAMES:
        assert artifacts.raw("master", name, "build") == MAIN_FILES[name][0], name


def test_python_gitlab_raw_with_a_slash_in_the_ref(anonymous: gitlab.Gitlab) -> None:
    artifacts = anonymous.projects.get(1, lazy=True).artifacts

    assert artifacts.raw("feature/x", "dist/app.js", "build") == FEATURE_FILES["dist/app.js"]
    assert artifacts.raw("feature/x", "feature.txt", "build") == FEATURE_FILES["feature.txt"]


def test_python_gitlab_streams_a_large_member(gl: gitlab.Gitlab) -> None:
    job = gl.projects.get(1, lazy=True).jobs.get(11, lazy=True)
    pieces: list[bytes] = []

    job.artifact("deflated/big.log", streamed=True, action=pieces.append, chunk_size=65536)

    assert b"".join(pieces) == MAIN_FILES["deflated/big.log"][0]


def test_python_gitlab_missing_file_and_private_project_raise_get_error(
    gl: gitlab.Gitlab, anonymous: gitlab.Gitlab
) -> None:
    with pytest.raises(exc.GitlabGetError) as missing:
        gl.projects.get(1, lazy=True).jobs.get(11, lazy=True).artifact("no/such.txt")
    with pytest.raises(exc.GitlabGetError) as hidden:
        anonymous.projects.get(2, lazy=True).jobs.get(21, lazy=True).artifact("hello.txt")
    with pytest.raises(exc.GitlabGetError) as no_job:
        gl.projects.get(1, lazy=True).artifacts.raw("master", "hello.txt", "no-such-job")

    assert (missing.value.response_code, missing.value.error_message) == (404, "404 Not Found")
    assert (hidden.value.response_code, hidden.value.error_message) == (
        404,
        "404 Project Not Found",
    )
    assert no_job.value.response_code == 404
    assert gl.projects.get(2, lazy=True).jobs.get(21, lazy=True).artifact("hello.txt") == (
        b"hello, world\n"
    )


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # @gitbeaker/rest encodes the whole path (and the ref) as one segment.
        (f"{P}/jobs/11/artifacts/dist%2Fapp.js", MAIN_FILES["dist/app.js"][0]),
        (f"{P}/jobs/artifacts/master/raw/dist%2Fapp.js?job=build", MAIN_FILES["dist/app.js"][0]),
        (f"{P}/jobs/11/artifacts/deep%2Fa%2Fb%2Fc%2Fd%2Fe.txt", b"deep\n"),
        (f"{P}/jobs/11/artifacts/dist%2fapp.js", MAIN_FILES["dist/app.js"][0]),
        (
            f"{P}/jobs/artifacts/feature%2Fx/raw/dist%2Fapp.js?job=build",
            FEATURE_FILES["dist/app.js"],
        ),
        (f"{P}/jobs/artifacts/feature/x/raw/dist/app.js?job=build", FEATURE_FILES["dist/app.js"]),
        (f"{P}/jobs/artifacts/feature%2fx/raw/feature.txt?job=build", FEATURE_FILES["feature.txt"]),
        (
            "/api/v4/projects/files%2Fpublic/jobs/artifacts/feature%2Fx/raw/feature.txt?job=build",
            FEATURE_FILES["feature.txt"],
        ),
        # names that hold a `raw` segment, on the route that splits at `/raw/`
        (f"{P}/jobs/artifacts/master/raw/raw/file.txt?job=build", MAIN_FILES["raw/file.txt"][0]),
        (f"{P}/jobs/artifacts/master/raw/raw?job=build", MAIN_FILES["raw"][0]),
        (f"{P}/jobs/artifacts/master/raw/a/raw/b.txt?job=build", MAIN_FILES["a/raw/b.txt"][0]),
        (
            f"{P}/jobs/artifacts/master/raw/x/raw/raw/y.txt?job=build",
            MAIN_FILES["x/raw/raw/y.txt"][0],
        ),
        (f"{P}/jobs/artifacts/master/raw/raw%2Ffile.txt?job=build", MAIN_FILES["raw/file.txt"][0]),
        (f"{P}/jobs/11/artifacts/raw/file.txt", MAIN_FILES["raw/file.txt"][0]),
        # The ambiguous split: the first candidate whose ref has a job of that name wins.
        (f"{P}/jobs/artifacts/a/raw/raw/b.txt?job=split", SPLIT_A["raw/b.txt"]),
        (f"{P}/jobs/artifacts/a/raw/raw/b.txt?job=split2", SPLIT2_A_RAW["b.txt"]),
        (f"{P}/jobs/artifacts/a%2Fraw/raw/b.txt?job=split", SPLIT_A_RAW["b.txt"]),
        (f"{P}/jobs/artifacts/a/raw/b.txt?job=split", SPLIT_A["b.txt"]),
    ],
)
def test_raw_wire_addressing(server: str, target: str, expected: bytes) -> None:
    reply = raw_request(server, target)

    assert (reply.status, reply.body) == (200, expected), reply.body[:200]
    assert reply.complete


@pytest.mark.parametrize(
    "target",
    [
        f"{P}/jobs/artifacts/a/raw/raw/b.txt?job=nobody",  # no ref has that job
        f"{P}/jobs/artifacts/a/raw/raw/nothing.txt?job=split",  # ref `a` wins, no such file
        f"{P}/jobs/artifacts/feature/raw/dist/app.js?job=build",  # ref `feature` does not exist
        f"{P}/jobs/artifacts/feature%2Fx/raw/missing.txt?job=build",
        f"{P}/jobs/artifacts/master/raw/hello.txt?job=zip64",  # right ref, other job's archive
    ],
)
def test_raw_route_misses_are_404_json(server: str, target: str) -> None:
    reply = raw_request(server, target)

    assert reply.status == 404
    assert reply.headers["content-type"] == "application/json"


def test_raw_route_without_job_is_400(server: str) -> None:
    reply = raw_request(server, f"{P}/jobs/artifacts/master/raw/hello.txt")

    assert (reply.status, reply.body) == (400, b'{"error":"job is missing"}')


def test_archive_download_by_ref_still_works_beside_the_raw_route(
    server: str, world: World
) -> None:
    for ref in ("feature/x", "feature%2Fx"):
        reply = raw_request(server, f"{P}/jobs/artifacts/{ref}/download?job=build")
        assert (reply.status, reply.body) == (200, world.archives[31])
