"""Nothing is read, spooled or stored for a caller who has not authenticated (issue item 3):
real server processes, bodies streamed until the server answers.

Baseline: `PUT /jobs/:id` parsed a multipart body into TMPDIR before checking the token
(2 GiB sent, /tmp grew by 2 GiB); the upload read any number of fields before
authenticating; an oversized part header was a 500.
"""

from __future__ import annotations

import http.client
import itertools
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.edge.conftest import Edge
from tests.support.documents import job_token
from tests.support.processes import ServerProcess, peak_rss_bytes
from tests.support.wire import BOUNDARY, MULTIPART, chunked, send_until_answered

GiB = 1 << 30
PIECE = 64 * 1024
# Kernel socket buffers on both ends take a few MiB before a server that stopped reading
# blocks the sender: the bound for "answered before the client has sent much".
SENT_BOUND = 32 * 1024 * 1024
MEMORY_BOUND = 300 * 1024 * 1024


def pieces(total: int, first: bytes = b"", filler: bytes = b"x") -> Iterator[bytes]:
    """`total` bytes in PIECE-sized pieces, starting with `first`: generated as sent."""
    yield first
    block = (filler * (PIECE // len(filler) + 1))[:PIECE]
    for _ in range((total - len(first)) // PIECE):
        yield block


def field_part(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


FIELD_HEAD = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="x"\r\n\r\n'.encode()
FILE_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
    "Content-Type: application/octet-stream\r\n\r\n"
).encode()


def chunked_head(method: str, target: str, *headers: str) -> list[str]:
    return [f"{method} {target} HTTP/1.1", "Transfer-Encoding: chunked", *headers]


@pytest.mark.parametrize(
    "content_type", [MULTIPART, "application/json", "application/x-www-form-urlencoded"]
)
def test_a_2_gib_put_without_a_token_is_answered_early_and_leaves_nothing(
    edge: Edge, server: ServerProcess, content_type: str
) -> None:
    job_id = edge.running_job()
    before = edge.left_behind()
    body = pieces(2 * GiB, first=FILE_HEAD)

    answer = send_until_answered(
        server.base_url,
        chunked_head("PUT", f"/api/v4/jobs/{job_id}", f"Content-Type: {content_type}"),
        chunked(body),
    )

    assert answer.status == 413, answer.body
    assert answer.headers["connection"] == "close"
    assert answer.sent < SENT_BOUND
    assert edge.left_behind() == before  # TMPDIR and storage as they were
    assert peak_rss_bytes(server.pid) < MEMORY_BOUND


def test_a_put_with_a_wrong_token_header_is_refused_before_its_body(
    edge: Edge, server: ServerProcess
) -> None:
    job_id = edge.running_job()

    answer = send_until_answered(
        server.base_url,
        chunked_head(
            "PUT", f"/api/v4/jobs/{job_id}", "Job-Token: wrong", f"Content-Type: {MULTIPART}"
        ),
        chunked(pieces(2 * GiB, first=FILE_HEAD)),
    )

    assert (answer.status, answer.body) == (403, b'{"message":"403 Forbidden"}')
    assert answer.sent < SENT_BOUND


def test_a_put_with_its_token_in_a_small_body_still_updates_the_job(
    edge: Edge, server: ServerProcess
) -> None:
    job_id = edge.running_job()
    body = f'{{"token": "{job_token(job_id)}", "state": "running"}}'.encode()

    answer = send_until_answered(
        server.base_url,
        [f"PUT /api/v4/jobs/{job_id} HTTP/1.1", "Content-Type: application/json",
         f"Content-Length: {len(body)}"],
        [body],
    )  # fmt: skip

    assert answer.status == 200, answer.body
    assert answer.headers["job-status"] == "running"


def test_an_upload_with_a_wrong_token_is_refused_before_its_file(
    edge: Edge, server: ServerProcess
) -> None:
    job_id = edge.running_job()
    before = edge.left_behind()

    answer = send_until_answered(
        server.base_url,
        chunked_head(
            "POST", f"/api/v4/jobs/{job_id}/artifacts", "Job-Token: wrong",
            f"Content-Type: {MULTIPART}",
        ),
        chunked(pieces(2 * GiB, first=FILE_HEAD)),
    )  # fmt: skip

    assert answer.status == 403
    assert answer.sent < SENT_BOUND
    assert edge.left_behind() == before
    assert edge.artifact_rows(job_id) == []


@pytest.mark.parametrize(
    "form",
    [
        # One name repeated without end: it must not reuse its slot under the parts cap.
        pytest.param(lambda: itertools.repeat(field_part("expire_in", "1 day")), id="repeated"),
        # Fresh names without end.
        pytest.param(lambda: (field_part(f"f{n}", "v") for n in itertools.count()), id="many"),
        # One field of 2 GiB.
        pytest.param(lambda: pieces(2 * GiB, first=FIELD_HEAD), id="huge-field"),
    ],
)
def test_an_unauthenticated_upload_form_is_refused_early(
    edge: Edge, server: ServerProcess, form: object
) -> None:
    job_id = edge.running_job()
    before = edge.left_behind()
    parts = form()  # type: ignore[operator]

    answer = send_until_answered(
        server.base_url,
        chunked_head("POST", f"/api/v4/jobs/{job_id}/artifacts", f"Content-Type: {MULTIPART}"),
        chunked(itertools.islice(parts, 200_000)),
    )

    assert answer.status == 400, answer.body
    assert answer.sent < SENT_BOUND
    assert edge.left_behind() == before
    assert edge.artifact_rows(job_id) == []


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(b"X-Padding: " + b"a" * 200_000, id="one-long-line"),
        pytest.param(b"\r\n".join(b"X-%d: v" % n for n in range(50)), id="many-lines"),
    ],
)
def test_an_oversized_part_header_is_a_400_not_a_500(
    edge: Edge, server: ServerProcess, header: bytes
) -> None:
    job_id = edge.running_job()
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="a.zip"\r\n'
        ).encode()
        + header
        + b"\r\n\r\nPK\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )
    log_before = server.log.read_text()

    answer = send_until_answered(
        server.base_url,
        [f"POST /api/v4/jobs/{job_id}/artifacts HTTP/1.1", f"Job-Token: {job_token(job_id)}",
         f"Content-Type: {MULTIPART}", f"Content-Length: {len(body)}"],
        [body],
    )  # fmt: skip

    assert answer.status == 400
    assert answer.body.startswith(b'{"message":"400 Bad request - malformed multipart body')
    assert "Traceback" not in server.log.read_text()[len(log_before) :]
    assert edge.artifact_rows(job_id) == []


def test_junk_where_a_boundary_belongs_is_a_400(edge: Edge, server: ServerProcess) -> None:
    job_id = edge.running_job()
    body = b"this is not multipart at all" * 100

    answer = send_until_answered(
        server.base_url,
        [f"POST /api/v4/jobs/{job_id}/artifacts HTTP/1.1", f"Job-Token: {job_token(job_id)}",
         f"Content-Type: {MULTIPART}", f"Content-Length: {len(body)}"],
        [body],
    )  # fmt: skip

    assert answer.status == 400


def test_a_repeated_field_counts_against_the_parts_cap(edge: Edge, server: ServerProcess) -> None:
    job_id = edge.running_job()
    # Well under UPLOAD_FORM_MAX_BYTES: only the count can refuse it.
    body = (
        field_part("expire_in", "1 day") * 20
        + FILE_HEAD
        + b"PK\r\n"
        + f"--{BOUNDARY}--\r\n".encode()
    )

    answer = send_until_answered(
        server.base_url,
        [f"POST /api/v4/jobs/{job_id}/artifacts HTTP/1.1", f"Job-Token: {job_token(job_id)}",
         f"Content-Type: {MULTIPART}", f"Content-Length: {len(body)}"],
        [body],
    )  # fmt: skip

    assert (answer.status, answer.body) == (
        400, b'{"message":"400 Bad request - too many form fields"}',
    )  # fmt: skip
    assert edge.artifact_rows(job_id) == []


def test_after_an_early_answer_the_server_drains_instead_of_resetting(
    edge: Edge, server: ServerProcess
) -> None:
    """The server answers 403 and closes while the body still arrives. Closing a socket with
    bytes still coming makes the kernel answer them with a reset, and a reset can destroy
    the answer before the client reads it (Windows discards what it has received; on a
    lossy network the answer's last segments are never resent): a runner would then retry
    instead of stopping. So the server shuts its side first (FIN after the answer) and reads
    and drops what still arrives for a moment: the client's next bytes are taken, not reset."""
    job_id = edge.running_job()
    parts = urlsplit(server.base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        head = (
            f"POST /api/v4/jobs/{job_id}/artifacts HTTP/1.1\r\nHost: edge\r\n"
            f"Job-Token: wrong\r\nContent-Type: {MULTIPART}\r\nContent-Length: {GiB}\r\n\r\n"
        )
        sock.sendall(head.encode() + FILE_HEAD)
        response = http.client.HTTPResponse(sock)
        response.begin()
        answer = (response.status, response.getheader("connection"), response.read())
        refused_at = None
        for n in range(20):  # 1.25 MiB more, over about half a second
            try:
                sock.sendall(b"x" * PIECE)
            except OSError:
                refused_at = n
                break
            time.sleep(0.025)

    assert answer == (403, "close", b'{"message":"403 Forbidden"}')
    assert refused_at is None  # drained, not reset
