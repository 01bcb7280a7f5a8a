"""The world the web page tests (tests/web, tests/browser) and the screenshots see: a private
project in a nested group, a public one, a pipeline with builds and a bridge, a log with
colours and sections, an archive holding text, an image, a PDF, a binary, a folder larger
than a browse page and an HTML report whose script tries to act as the signed-in user; and
`artifactsvc serve` over it, as a real process."""

from __future__ import annotations

import json
import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2

from artifactsvc.web.session import COOKIE
from tests.support.documents import job, pipeline, project, user
from tests.support.processes import ServerProcess, run_artifactsvc, server_process
from tests.support.zips import DEFLATED, STORED, Member, make_zip

ROOT_TOKEN = "glpat-pages-root"
ALICE_TOKEN = "glpat-pages-alice"  # developer of group/sub/app
RITA_TOKEN = "glpat-pages-rita"  # reporter of group/sub/app: reads, cannot keep
DORA_TOKEN = "glpat-pages-dora"  # developer of group/sub/app, through a read_api token
PRIVATE = "group/sub/app"
PUBLIC = "open/site"
SESSION_SECRET = "pages-test-secret-0123456789abcdef0123456789"
BIG_FOLDER = 250  # entries of `many/`: more than one browse page (100)
FUTURE = "2099-01-01T00:00:00.000Z"

LOG = (
    "\x1b[0KRunning with gitlab-runner 17.0.0\n"
    "section_start:1700000000:prepare_script\r\x1b[0K"
    "\x1b[0K\x1b[36;1mPreparing environment\x1b[0;m\n"
    "Running on runner-1 via host...\n"
    "section_end:1700000003:prepare_script\r\x1b[0K\n"
    "section_start:1700000003:step_script[collapsed=true]\r\x1b[0K"
    "\x1b[0K\x1b[36;1mExecuting step\x1b[0;m\n"
    "\x1b[32;1m$ make test\x1b[0;m\n"
    "ok <tests> & done\n"
    "section_end:1700000065:step_script\r\x1b[0K\n"
    "\x1b[32;1mJob succeeded\x1b[0;m\n"
)

REPORT_HTML = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Coverage report</title>
<link rel="stylesheet" href="style.css"></head>
<body><h1 id="title">Coverage report</h1>
<p>Lines covered: 97.5%</p>
<pre id="cookie">pending</pre><pre id="api">pending</pre><pre id="page">pending</pre>
<script src="app.js"></script>
</body></html>
"""

REPORT_JS = b"""
function put(id, text) { document.getElementById(id).textContent = text; }
try { put("cookie", "cookie:[" + document.cookie + "]"); }
catch (e) { put("cookie", "cookie-error:" + e.name); }
fetch("/api/v4/user", {credentials: "include"})
  .then(function (r) { put("api", "api-status:" + r.status); })
  .catch(function (e) { put("api", "api-failed:" + e.name); });
fetch("/group/sub/app/-/jobs/7", {credentials: "include"})
  .then(function (r) { return r.text().then(function (t) {
    put("page", "page-status:" + r.status + (t.indexOf("Sign out") >= 0 ? ":signed-in" : ""));
  }); })
  .catch(function (e) { put("page", "page-failed:" + e.name); });
"""


# Longer than what a file's page shows (1 MiB), and a log longer than a job page shows.
BIG_TEXT = b"".join(b"line %07d of a long file\n" % n for n in range(45_000))
BIG_LOG = "".join(f"step {n:07d}\n" for n in range(100_000)) + "the end\n"


def png(width: int = 24, height: int = 16) -> bytes:
    """A real PNG: a red-to-blue gradient, written by hand (no imaging library needed)."""
    rows = b"".join(
        b"\0" + b"".join(bytes((255 - x * 10 % 256, 40, x * 10 % 256)) for x in range(width))
        for _ in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def pdf() -> bytes:
    """A one-page PDF, with a correct cross-reference table."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
    ]
    stream = b"BT /F1 12 Tf 20 50 Td (artifact report) Tj ET"
    objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def archive() -> bytes:
    members = [
        Member("README.md", b"# Build output\n\nline two <b>not bold</b>\nline three\n", DEFLATED),
        Member("docs/", b""),
        Member("docs/guide.txt", b"".join(b"guide line %d\n" % n for n in range(1, 41))),
        Member("docs/deep/", b""),
        Member("docs/deep/note.txt", b"deep note\n"),
        Member("docs/latest", b"guide.txt", symlink=True),
        Member("images/logo.png", png(), STORED),
        Member("report.pdf", pdf(), STORED),
        Member("bin/tool", b"\x7fELF\x00\x01\x02binary", STORED, mode=0o755),
        Member("coverage/index.html", REPORT_HTML, DEFLATED),
        Member("coverage/style.css", b"body { font-family: sans-serif; color: #123; }\n"),
        Member("coverage/app.js", REPORT_JS, DEFLATED),
    ]
    members += [Member(f"many/file-{n:03d}.txt", b"%d\n" % n) for n in range(BIG_FOLDER)]
    members.append(Member("logs/big.log", BIG_TEXT, DEFLATED))
    return make_zip(members)


def world(directory: Path) -> dict[str, Any]:
    (directory / "pages.zip").write_bytes(archive())
    (directory / "public.zip").write_bytes(make_zip([Member("index.txt", b"public\n")]))
    expiring = {"file_type": "archive", "path": "pages.zip", "expire_at": FUTURE}
    return {
        "users": [
            user(1, "root", admin=True, tokens=(ROOT_TOKEN,)),
            user(2, "alice", tokens=(ALICE_TOKEN,)),
            user(3, "rita", tokens=(RITA_TOKEN,)),
            {**user(4, "dora"), "tokens": [{"token": DORA_TOKEN, "scopes": ["read_api"]}]},
        ],
        "projects": [
            project(1, PRIVATE, "private", {"alice": 30, "rita": 20, "dora": 30}),
            project(2, PUBLIC, "public"),
        ],
        "pipelines": [pipeline(6, 1), pipeline(7, 1, ref="feature/x"), pipeline(20, 2, ref="main")],
        "jobs": [
            job(7, 6, "success", name="build", stage="build", user="alice", trace=LOG,
                finished_at="2015-12-24T17:55:32.895Z",
                artifacts=[expiring]),
            job(8, 6, "failed", name="unit", stage="test", user="alice", trace="1 failed\n"),
            job(9, 6, "success", name="lint", stage="test", trace="clean\n"),
            job(10, 6, "pending", name="trigger", stage="deploy", kind="bridge",
                downstream_pipeline_id=20),
            job(11, 6, "success", name="keepme", stage="test", trace="x\n",
                artifacts=[{**expiring, "path": "pages.zip"}]),
            job(12, 6, "success", name="chatty", stage="test", trace=BIG_LOG),
            job(13, 7, "success", name="build", stage="build", trace="on a branch\n",
                artifacts=[{"file_type": "archive", "path": "public.zip"}]),
            job(21, 20, "success", name="pages", stage="deploy", trace="public\n",
                artifacts=[{"file_type": "archive", "path": "public.zip"}]),
        ],
    }  # fmt: skip


@contextmanager
def pages_server(directory: Path, **env: str) -> Iterator[ServerProcess]:
    """`artifactsvc serve` over `world`, seeded in `directory`; `env` adds ARTIFACTSVC_*."""
    settings = {
        "ARTIFACTSVC_DATABASE_URL": f"sqlite:///{directory}/meta.db",
        "ARTIFACTSVC_STORAGE_URL": str(directory / "objects"),
        "ARTIFACTSVC_SESSION_SECRET": SESSION_SECRET,
        **env,
    }
    # `artifactsvc import` itself, in its own process (a running Playwright holds this
    # thread's event loop).
    document = directory / "world.json"
    document.write_text(json.dumps(world(directory)))
    imported = run_artifactsvc("import", str(document), env=settings, cwd=directory)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    with server_process(settings, cwd=directory) as server:
        yield server


# -- a browser's sign-in, over HTTP ----------------------------------------------------------

CSRF = re.compile(r'name="authenticity_token" value="([^"]+)"')


def sign_in(client: httpx2.Client, token: str, **form: str) -> httpx2.Response:
    response = client.post(
        "/users/sign_in",
        data={"personal_access_token": token, **form},
        headers={"Origin": str(client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"},
    )
    return response


def signed_in(client: httpx2.Client, token: str) -> httpx2.Client:
    response = sign_in(client, token)
    assert response.status_code == 303, response.text
    assert client.cookies.get(COOKIE)
    return client


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, "no CSRF token on the page"
    return found.group(1)


def same_origin(client: httpx2.Client) -> dict[str, str]:
    return {"Origin": str(client.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"}
