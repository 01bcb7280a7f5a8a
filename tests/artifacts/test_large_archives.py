"""A 200 MB archive through the real server on SeaweedFS: streamed in, streamed out, byte for
byte, with the server's memory flat (its peak RSS is printed and bounded)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterator

import gitlab
import pytest

from tests.artifacts.world import ROOT, token
from tests.support.processes import peak_rss_bytes
from tests.support.service import Service
from tests.support.wire import MULTIPART, multipart_stream
from tests.support.zips import MiB, large_zip

SIZE = 200 * MiB
RSS_BOUND = 300 * MiB


@pytest.mark.slow
@pytest.mark.parametrize("storage_url", ["seaweed"], indirect=True)
def test_a_200_mb_archive_round_trips_with_flat_memory(
    make_service: Callable[..., Service],
) -> None:
    service = make_service(real=True, max_artifact_size=300 * MiB)
    assert service.server is not None
    pid = service.server.pid
    idle = peak_rss_bytes(pid)

    sent = hashlib.sha256()
    size = 0
    window_start = random.Random().randrange(SIZE - MiB)
    window = bytearray()  # 1 MiB of the archive, kept to check a ranged read

    def archive() -> Iterator[bytes]:
        nonlocal size
        for chunk in large_zip(SIZE):
            sent.update(chunk)
            end = size + len(chunk)
            if end > window_start and size < window_start + MiB:
                window.extend(chunk[max(0, window_start - size) : window_start + MiB - size])
            size = end
            yield chunk

    # Streamed from a generator: chunked, never held whole on either side.
    response = service.client.post(
        "/api/v4/jobs/100/artifacts",
        params={"artifact_format": "zip", "artifact_type": "archive", "expire_in": "1 week"},
        content=multipart_stream(archive()),
        headers={"Content-Type": MULTIPART, **token(100)},
        timeout=300,
    )
    assert response.status_code == 201, response.text
    assert size > SIZE
    assert response.json()["size"] == size
    after_upload = peak_rss_bytes(pid)
    assert service.storage.uploads() == []

    project = gitlab.Gitlab(
        str(service.client.base_url), private_token="root-token", timeout=300
    ).projects.get(1, lazy=True)
    received = hashlib.sha256()
    project.jobs.get(100, lazy=True).artifacts(
        streamed=True, action=received.update, chunk_size=MiB
    )
    assert received.hexdigest() == sent.hexdigest()
    peak = peak_rss_bytes(pid)

    ranged = service.client.get(
        "/api/v4/projects/1/jobs/100/artifacts",
        headers={**ROOT, "Range": f"bytes={window_start}-{window_start + MiB - 1}"},
    )
    assert ranged.status_code == 206
    assert ranged.content == bytes(window)
    member = service.client.get(
        "/api/v4/projects/1/jobs/100/artifacts/logs/build.log", headers=ROOT
    )
    assert member.status_code == 200
    assert member.content == b"compiling...\n" * 50_000

    print(
        f"\nserver peak RSS (VmHWM of pid {pid}): idle {idle / MiB:.1f} MiB, after a "
        f"{size / MiB:.0f} MiB upload {after_upload / MiB:.1f} MiB, after its download "
        f"{peak / MiB:.1f} MiB"
    )
    assert peak < RSS_BOUND
