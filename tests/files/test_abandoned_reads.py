"""Reads of a huge compressed member stop when their client leaves, and never starve others.

A 3 MB upload holds 3 GiB of deflated zeros. Once, a `Range` near its end took 87 s to its
first byte, and eight such requests abandoned after a second held all eight zip threads for
minutes, so an unrelated 5-byte read waited 168 s. Against a real `artifactsvc serve`, read
through its own counters (`/metrics`): abandoned reads stop inflating at once (the bytes
inflated stop growing, far below what the reads asked for), their threads come back, and a
small read finds a free thread. With the default budget such a Range is refused (400) before
a byte is inflated.
"""

from __future__ import annotations

import functools
import json
import socket
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx2
import pytest

from tests.files.world import one_project_world
from tests.support.apps import import_document
from tests.support.lying_zips import Raw, raw_zip
from tests.support.processes import ServerProcess, server_process, wait_for
from tests.support.service import upload
from tests.support.wire import raw_request
from tests.support.zips import DEFLATED, MiB

MEMBER = 3 << 30  # 3 GiB of zeros, about 3 MB deflated
ABANDONED = 8
THREADS = 4
SMALL = b"a small member, read while the others are abandoned\n"
URL = "/api/v4/projects/1/jobs/1/artifacts"


def deflated_zeros(size: int) -> bytes:
    """A raw Deflate stream of `size` zero bytes, built in constant time: after a sync flush
    the window is all zeros, so every further MiB compresses to the very same bytes."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(MiB)
    head = packer.compress(block) + packer.flush(zlib.Z_SYNC_FLUSH)
    steady = packer.compress(block) + packer.flush(zlib.Z_SYNC_FLUSH)
    assert packer.compress(block) + packer.flush(zlib.Z_SYNC_FLUSH) == steady
    return head + steady * (size // MiB - 1) + packer.flush()


@functools.cache
def zeros_archive() -> bytes:
    crc = 0
    block = bytes(MiB)
    for _ in range(MEMBER // MiB):
        crc = zlib.crc32(block, crc)
    return raw_zip(
        [
            Raw(b"zeros.bin", deflated_zeros(MEMBER), b"", method=DEFLATED, crc=crc, usize=MEMBER),
            Raw(b"small.txt", SMALL, SMALL),
        ]
    )


def test_the_zeros_stream_inflates_to_what_it_declares() -> None:
    stream = deflated_zeros(64 * MiB)
    assert zlib.decompress(stream, -15) == bytes(64 * MiB)


def metrics(base: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for line in raw_request(base, "/metrics").body.decode().splitlines():
        if line.startswith("artifactsvc_zip_"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


READS = 'artifactsvc_zip_threads_busy{pool="reads"}'
QUEUED = 'artifactsvc_zip_tasks_queued{pool="reads"}'
INFLATED = "artifactsvc_zip_inflated_bytes_total"


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    env = {
        "ARTIFACTSVC_DATABASE_URL": f"sqlite:///{tmp_path}/meta.db",
        "ARTIFACTSVC_STORAGE_URL": str(tmp_path / "objects"),
        "ARTIFACTSVC_MEMBER_READ_THREADS": str(THREADS),
        **getattr(request, "param", {}),
    }
    import_document(env["ARTIFACTSVC_DATABASE_URL"], one_project_world([1]), tmp_path)
    with server_process(env, cwd=tmp_path) as served:
        with httpx2.Client(base_url=served.base_url, timeout=120) as client:
            response = upload(client, 1, zeros_archive(), after={"expire_in": "never"})
            assert response.status_code == 201, response.text
        yield served


def start_ranged_read(base: str, path: str, start: int) -> socket.socket:
    parts = urlsplit(base)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    request = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nRange: bytes={start}-\r\n\r\n"
    sock.sendall(request.encode())
    return sock


# As an archive indexed before seek points existed: a deep Range inflates from the start.
NO_SEEK_POINTS = {"ARTIFACTSVC_SEEK_POINT_SPACING": "0"}
UNLIMITED = {**NO_SEEK_POINTS, "ARTIFACTSVC_INFLATE_BUDGET": str(2**62)}


@pytest.mark.parametrize("server", [UNLIMITED], indirect=True)
def test_abandoned_deep_ranges_stop_inflating_and_free_their_threads(
    server: ServerProcess,
) -> None:
    base = server.base_url
    sockets = [start_ranged_read(base, f"{URL}/zeros.bin", MEMBER - 100) for _ in range(ABANDONED)]
    # The pool is bounded: THREADS of them inflate, the rest wait for a thread.
    wait_for(
        lambda: (metrics(base)[READS], metrics(base)[QUEUED]) == (THREADS, ABANDONED - THREADS),
        what="the reads to fill the pool",
    )
    # Listings and folder zips have pools of their own: a full read pool does not hold them.
    listing = raw_request(base, "/api/v4/projects/1/jobs/1/artifacts_tree")
    folder = raw_request(base, "/api/v4/projects/1/jobs/1/artifacts_tree/archive?path=")
    assert (listing.status, folder.status) == (200, 200)
    assert metrics(base)[READS] == THREADS  # still all busy meanwhile
    time.sleep(0.3)
    for sock in sockets:
        sock.close()

    wait_for(
        lambda: metrics(base)[READS] == 0 and metrics(base)[QUEUED] == 0,
        timeout=20,
        what="the abandoned reads to give their threads back",
    )
    stopped = metrics(base)[INFLATED]
    time.sleep(1.0)
    after = metrics(base)
    small = raw_request(base, f"{URL}/small.txt")

    print({"inflated_mib": stopped / MiB, "asked_mib": ABANDONED * MEMBER / MiB})
    assert after[INFLATED] == stopped  # nothing inflates any more
    assert stopped < THREADS * 512 * MiB  # each stopped far before the 3 GiB it was asked
    assert after["artifactsvc_zip_cancelled_total"] >= THREADS
    assert (small.status, small.body) == (200, SMALL)


@pytest.mark.parametrize("server", [NO_SEEK_POINTS], indirect=True)
def test_a_range_past_the_inflate_budget_is_refused_before_inflating(server: ServerProcess) -> None:
    base = server.base_url
    before = metrics(base)[INFLATED]

    deep = raw_request(base, f"{URL}/zeros.bin", headers={"Range": f"bytes={MEMBER - 100}-"})
    near = raw_request(base, f"{URL}/zeros.bin", headers={"Range": "bytes=1000-1099"})
    after = metrics(base)[INFLATED]

    assert deep.status == 400, deep.body
    message = json.loads(deep.body)["message"]
    assert message.startswith("400 Bad request - a range starting 3221225372 bytes into")
    assert "more than 268435456 bytes" in message
    assert (near.status, near.body) == (206, bytes(100))
    assert after - before < 4 * MiB  # the refused read inflated nothing; the near one 1 KiB


def test_a_deep_range_starts_at_a_seek_point_and_inflates_about_one_spacing(
    server: ServerProcess,
) -> None:
    base = server.base_url
    before = metrics(base)[INFLATED]

    ends = [MEMBER - 100, MEMBER // 2 + 12345, 5 * MiB + 1]
    replies = [
        raw_request(base, f"{URL}/zeros.bin", headers={"Range": f"bytes={at}-{at + 99}"})
        for at in ends
    ]
    after = metrics(base)[INFLATED]

    assert [(r.status, r.body) for r in replies] == [(206, bytes(100))] * len(ends)
    print({"inflated_mib_for_three_deep_ranges": (after - before) / MiB})
    assert after - before <= len(ends) * 5 * MiB  # a spacing (4 MiB) and a chunk, each


def test_clients_that_stop_reading_hold_no_read_thread(server: ServerProcess) -> None:
    """More clients than read threads start downloading the 3 GiB member and then read
    nothing (their socket buffers fill): each holds its connection and a few chunks of
    memory, but its producer gives the thread back, so a small read still answers."""
    base = server.base_url
    stalled = [start_ranged_read(base, f"{URL}/zeros.bin", 0) for _ in range(THREADS + 2)]
    try:
        first = [sock.recv(1 << 16) for sock in stalled]
        assert all(b"206 Partial Content" in data for data in first)
        wait_for(
            lambda: (metrics(base)[READS], metrics(base)[QUEUED]) == (0, 0),
            timeout=20,
            what="the stalled readers' producers to give their threads back",
        )
        small = raw_request(base, f"{URL}/small.txt")
        assert (small.status, small.body) == (200, SMALL)
        assert metrics(base)[INFLATED] < len(stalled) * 512 * MiB  # they wait, not inflate
    finally:
        for sock in stalled:
            sock.close()
