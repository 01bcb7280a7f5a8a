"""What a connection may hold (issue item 5), on real server processes: the request head has
a deadline and a size, an idle keep-alive connection a timeout, and the process a connection
cap at which idle and slow connections make room and busy ones are not displaced.

Baseline: no header or idle timeout and no cap; slow-header connections still open after
70 s; 3,000 silent connections all accepted (the fd limit the only bound).
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.edge.conftest import LARGE_JOB, P1, Edge
from tests.support.processes import ServerProcess

HEADER_TIMEOUT = 2.0
KEEPALIVE = 2
CAP = 20
SLACK = 2.5  # seconds a close may lag its deadline on a loaded machine


@pytest.fixture(scope="module")
def bounded(edge: Edge) -> Iterator[ServerProcess]:
    with edge.serve(
        http_header_timeout=HEADER_TIMEOUT,
        http_keepalive_timeout=KEEPALIVE,
        http_max_connections=CAP,
    ) as server:
        yield server


def connect(server: ServerProcess) -> socket.socket:
    parts = urlsplit(server.base_url)
    return socket.create_connection((parts.hostname, parts.port), timeout=10)


def closed_by_server(sock: socket.socket, wait: float = 0.0) -> bool:
    """True once the server has closed (EOF or reset); False if still open after `wait`."""
    if not select.select([sock], [], [], wait)[0]:
        return False
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


def socket_fds(pid: int) -> int:
    """How many sockets the server process holds open (its listener included)."""
    found = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return found


def get(server: ServerProcess, path: str = "/-/liveness") -> httpx2.Response:
    return httpx2.get(server.base_url + path, timeout=10)


def test_a_slowloris_client_is_disconnected_within_the_header_timeout(
    bounded: ServerProcess,
) -> None:
    sock = connect(bounded)
    sock.sendall(b"GET /-/liveness HTTP/1.1\r\nHost: edge\r\nX-Slow: ")
    started = time.monotonic()
    answered = b""
    while time.monotonic() - started < HEADER_TIMEOUT + SLACK + 5:
        try:
            sock.sendall(b"a")  # one header byte a second, never the end of the headers
        except OSError:
            break
        if select.select([sock], [], [], 1.0)[0]:
            try:
                answered = sock.recv(65536)
            except ConnectionResetError:
                answered = b""
            if not answered:
                break
    elapsed = time.monotonic() - started
    sock.close()

    assert answered == b""  # closed, never answered
    assert elapsed < HEADER_TIMEOUT + SLACK


def test_a_silent_connection_is_closed_within_the_header_timeout(
    bounded: ServerProcess,
) -> None:
    sock = connect(bounded)

    closed = closed_by_server(sock, wait=HEADER_TIMEOUT + SLACK)
    sock.close()

    assert closed


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(
    bounded: ServerProcess,
) -> None:
    sock = connect(bounded)
    sock.sendall(b"GET /-/liveness HTTP/1.1\r\nHost: edge\r\n\r\n")
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")

    assert not closed_by_server(sock, wait=KEEPALIVE / 2)  # keep-alive is kept ...
    assert closed_by_server(sock, wait=KEEPALIVE + SLACK)  # ... for its timeout
    sock.close()


def test_a_head_over_the_size_limit_is_431(bounded: ServerProcess) -> None:
    sock = connect(bounded)
    sock.sendall(b"GET /-/liveness HTTP/1.1\r\nHost: edge\r\n")
    with contextlib.suppress(OSError):  # the server may stop reading part way
        for _ in range(100):
            sock.sendall(b"X-Padding: " + b"a" * 1000 + b"\r\n")

    answer = sock.recv(65536)
    sock.close()

    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b'{"message":"431 Request Header Fields Too Large"}' in answer


def test_silent_connections_beyond_the_cap_make_room_for_a_real_request(
    bounded: ServerProcess,
) -> None:
    idle = socket_fds(bounded.pid)  # the listener and the loop's own
    silent = [connect(bounded) for _ in range(15 * CAP)]  # 300: the cap is 20
    time.sleep(0.5)  # let the server accept what it will

    held = socket_fds(bounded.pid) - idle
    response = get(bounded)
    evicted = sum(closed_by_server(sock) for sock in silent)
    for sock in silent:
        sock.close()

    assert response.status_code == 200
    assert held <= CAP + 1  # the cap, and one being accepted
    assert evicted >= len(silent) - CAP


def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503(edge: Edge) -> None:
    cap = 4
    with edge.serve(http_max_connections=cap) as server:
        busy: list[socket.socket] = []
        for _ in range(cap):
            # A 24 MiB download the client never reads: its request stays in flight.
            sock = connect(server)
            sock.sendall(
                f"GET {P1}/jobs/{LARGE_JOB}/artifacts HTTP/1.1\r\nHost: e\r\n\r\n".encode()
            )
            assert sock.recv(12) == b"HTTP/1.1 200"
            busy.append(sock)

        refused = get(server)
        for sock in busy:
            sock.close()
        time.sleep(0.5)
        after = get(server)

    assert (refused.status_code, refused.json()) == (503, {"message": "503 Service Unavailable"})
    assert after.status_code == 200


def test_keep_alive_requests_still_share_one_connection(bounded: ServerProcess) -> None:
    with httpx2.Client(base_url=bounded.base_url, timeout=10) as client:
        answers = [client.get("/-/liveness").status_code for _ in range(5)]

    assert answers == [200] * 5
