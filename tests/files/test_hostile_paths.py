"""Hostile artifact paths, sent byte for byte on the wire to a real server (CONTRACT 5).

Each gets 400 or 404 with a JSON body, never a 500 and never a file other than the one the
archive names exactly. The archive holds `hello.txt` (what traversal would reach), and also
entries literally named `../evil.txt` and `/abs.txt` (an archive may name anything).
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.files.conftest import World
from tests.support.lying_zips import Raw, raw_zip
from tests.support.service import upload_archive
from tests.support.wire import raw_request

P = "/api/v4/projects/1"
BAD, MISSING = 400, 404
LONG = "a" * 5000

HOSTILE: list[tuple[str, int]] = [
    ("..", BAD),
    ("../hello.txt", BAD),
    ("../../../../etc/passwd", BAD),
    ("dir/../hello.txt", BAD),
    ("dir/..", BAD),
    ("./hello.txt", BAD),
    (".", BAD),
    ("hello.txt/.", BAD),
    ("%2e%2e", BAD),
    ("%2e%2e/hello.txt", BAD),
    ("%2E%2E%2Fhello.txt", BAD),
    ("..%2Fhello.txt", BAD),
    ("..%2fhello.txt", BAD),
    ("dir%2F..%2Fhello.txt", BAD),
    (".%2e/hello.txt", BAD),
    ("%2e/hello.txt", BAD),
    ("%252e%252e%252fhello.txt", MISSING),  # decoded once: a literal "%2e%2e%2fhello.txt"
    ("%2568ello.txt", MISSING),  # decoded once: "%68ello.txt", not "hello.txt"
    ("..%252fhello.txt", MISSING),
    ("hello.txt%00", BAD),
    ("hello.txt%00.png", BAD),
    ("%00", BAD),
    ("%c0%ae%c0%ae/hello.txt", BAD),  # overlong UTF-8 dots
    ("%c0%af", BAD),
    ("%e0%80%ae%e0%80%ae/hello.txt", BAD),
    ("%ed%a0%80", BAD),  # an encoded UTF-16 surrogate
    ("%ff", BAD),
    ("hello%ff.txt", BAD),
    ("%fe%ff", BAD),
    ("%01", BAD),
    ("hello.txt%7f", BAD),
    ("hello.txt%0a", BAD),
    ("hello.txt%0d%0aX-Injected:%20yes", BAD),
    ("%09hello.txt", BAD),
    ("hello%C2%85.txt", BAD),  # NEL, a C1 control character
    ("%C2%9Bhello.txt", BAD),  # CSI
    ("\\..\\hello.txt", MISSING),  # backslashes are not separators
    ("..\\hello.txt", MISSING),
    ("%5c..%5chello.txt", MISSING),
    ("..%5c..%5cetc%5cpasswd", MISSING),
    ("//hello.txt", BAD),
    ("dir//inside.txt", BAD),
    ("dir/", BAD),
    ("hello.txt/", BAD),
    ("%2Fetc%2Fpasswd", BAD),
    ("/etc/passwd", BAD),
    ("%2Fabs.txt", BAD),  # named so in the archive, but a leading / is never a member path
    ("%2e%2e/evil.txt", BAD),
    ("../evil.txt", BAD),
    (LONG, BAD),
    ("a/" * 2100 + "b", BAD),
    ("a" * 4096, MISSING),  # exactly the limit: allowed, and absent
    ("%", MISSING),
    ("%%", MISSING),
    ("%4", MISSING),
    ("%zz", MISSING),
    ("hello.txt%", MISSING),
    ("%u002e%u002e/hello.txt", MISSING),
    ("..;/hello.txt", MISSING),
    ("%ef%bc%8e%ef%bc%8e/hello.txt", MISSING),  # fullwidth dots are not dots
    ("HELLO.TXT", MISSING),
    ("hello.txt.", MISSING),
    ("hello.txt%20", MISSING),
    ("hello.txt%3F", MISSING),
    ("hello.txt%23", MISSING),
    ("hello.txt;jsessionid=1", MISSING),
    ("...", MISSING),
    ("link", MISSING),  # a symlink entry to hello.txt
    ("escape-link", MISSING),  # a symlink entry to ../../../../etc/passwd
    ("dir", MISSING),
]


def _ids() -> list[str]:
    return [f"{n}:{p[:40]}" for n, (p, _) in enumerate(HOSTILE)]


@pytest.mark.parametrize("route", ["job", "ref"])
@pytest.mark.parametrize(("path", "status"), HOSTILE, ids=_ids())
def test_hostile_path_is_refused_with_json(server: str, route: str, path: str, status: int) -> None:
    jobs = 13 if "evil" in path or "abs" in path else 11
    name = "crafted" if jobs == 13 else "build"
    target = (
        f"{P}/jobs/{jobs}/artifacts/{path}"
        if route == "job"
        else f"{P}/jobs/artifacts/master/raw/{path}?job={name}"
    )

    reply = raw_request(server, target)

    assert reply.status == status, reply.body[:300]
    assert reply.headers["content-type"] == "application/json"
    body = json.loads(reply.body)
    assert body["message"].startswith(str(status))
    assert "x-injected" not in reply.headers
    assert reply.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "target",
    [
        "/api/v4/projects/..%2F..%2Fetc/jobs/11/artifacts/hello.txt",
        "/api/v4/projects/1/../2/jobs/21/artifacts/hello.txt",
        "/api/v4/projects/1/jobs/..%2F21/artifacts/hello.txt",
        "/api/v4/projects/1/jobs/21/artifacts/hello.txt",  # job of the private project
        "/api/v4/projects/1/jobs/artifacts/..%2Fmaster/raw/hello.txt?job=build",
        "/api/v4/projects/1/jobs/artifacts/master/raw/hello.txt?job=..%2Fbuild",
        "/api/v4/projects/2/jobs/artifacts/master/raw/hello.txt?job=build",  # private, anonymous
    ],
)
def test_hostile_ids_refs_and_jobs_never_reach_a_file(server: str, target: str) -> None:
    reply = raw_request(server, target)

    assert reply.status in (400, 404), reply.body[:300]
    assert reply.headers["content-type"] == "application/json"
    assert b"hello, world" not in reply.body


def test_the_path_limit_counts_bytes_not_characters(server: str) -> None:
    """1366 three-byte characters are 4098 bytes: over the 4096-byte limit."""
    target = f"{P}/jobs/11/artifacts/{'%E6%97%A5' * 1366}"

    assert raw_request(server, target).status == 400


HOSTILE_NAMES = [
    b"../../etc/passwd",
    b"/etc/absolute.txt",
    b"..\\..\\windows\\evil.txt",
    b"ok\\..\\..\\evil.txt",
    b"C:/windows/drive.txt",
    b"c:relative.txt",
    b"nul\x00byte.txt",
    b"ok/../../climbs.txt",
    b"ok/./dot.txt",
    b"ok//empty.txt",
]
SAFE_NAMES = [b"ok/fine.txt", b"ok/colon:fine.txt", b"ok/deeper/also.txt", b"top.txt"]


@pytest.fixture(scope="module")
def hostile_archive(world: World) -> None:
    members = [Raw(name, b"x" + name, b"x" + name) for name in HOSTILE_NAMES + SAFE_NAMES]
    upload_archive(world.client, 66, raw_zip(members))


@pytest.mark.parametrize(("folder", "kept"), [("", SAFE_NAMES), ("ok", SAFE_NAMES[:3])])
def test_a_folder_zip_never_copies_a_name_that_climbs_out_when_extracted(
    server: str, hostile_archive: None, folder: str, kept: list[bytes]
) -> None:
    """As Go's archive/zip calls them insecure, and GitLab's listing leaves them out: `..`,
    absolute names, backslashes, drive letters, NUL; they are skipped, the rest is copied."""
    query = f"?path={folder}" if folder else ""
    reply = raw_request(server, f"{P}/jobs/66/artifacts_tree/archive{query}")

    assert (reply.status, reply.complete) == (200, True)
    with zipfile.ZipFile(io.BytesIO(reply.body)) as copy:
        names = [info.filename for info in copy.infolist()]
        assert sorted(names) == sorted(name.decode() for name in kept)
        assert all(copy.read(name) == b"x" + name.encode() for name in names)
    for name in HOSTILE_NAMES:
        assert name not in reply.body
