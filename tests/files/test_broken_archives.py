"""Broken archives give a clear error, never a complete-looking 200 with wrong bytes (CONTRACT 8).

A clear error is a JSON 4xx/5xx sent before the body starts, or a connection aborted before
the body is complete (fewer bytes than Content-Length). Everything is read from a real
uvicorn process with a raw socket, so an aborted body is seen as a client sees it.

Archives the upload check refuses are written straight into storage and the metadata store
(as a restore from backup, or an older version of the service, might have left them); the
others are uploaded through the runner endpoint and some are damaged in storage afterwards.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import struct
import uuid
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from artifactsvc.metadata import open_metadata_store
from artifactsvc.models import Artifact, utcnow
from artifactsvc.objects.filesystem import FilesystemObjectStore
from tests.files.conftest import World
from tests.support.database import artifact_row, artifact_rows
from tests.support.documents import job_token
from tests.support.lying_zips import EOCD, LOCAL, Raw, deflate_raw, raw_zip
from tests.support.processes import ServerProcess, peak_rss_bytes
from tests.support.service import upload_archive
from tests.support.streams import chunks
from tests.support.wire import Reply, raw_request
from tests.support.zips import DEFLATED, Member, make_zip, noise, text

P = "/api/v4/projects/1"
SECONDS = 10.0  # every answer, error or abort, comes well within this


def url(job_id: int, name: str) -> str:
    return f"{P}/jobs/{job_id}/artifacts/{name}"


def assert_never_complete_and_wrong(reply: Reply) -> None:
    assert reply.seconds < SECONDS
    if reply.status >= 400:
        assert reply.headers["content-type"] == "application/json"
        assert json.loads(reply.body)["message"].startswith(str(reply.status))
        return
    assert reply.status == 200
    assert not reply.complete, "a damaged member was served as a complete 200"
    assert len(reply.body) < int(reply.headers["content-length"])


# -- archives the upload refuses ------------------------------------------------------------------

GOOD = {"hello.txt": b"hello\n", "other.txt": b"other\n" * 100, "third.txt": b"third\n"}


def _good() -> bytes:
    return make_zip([Member(n, d, zipfile.ZIP_DEFLATED) for n, d in GOOD.items()])


def corrupt_central_directory() -> bytes:
    data = bytearray(_good())
    second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 1)
    data[second + 3] = 0x07
    return bytes(data)


def truncated() -> bytes:
    data = _good()
    return data[: len(data) * 6 // 10]


def overlapping() -> bytes:
    body = b"shared kernel " * 50
    return raw_zip(
        [
            Raw(b"a.txt", body, body),
            Raw(b"b.txt", body, body, share_previous=True),
            Raw(b"hello.txt", b"hello\n", b"hello\n"),
        ]
    )


def count_lies() -> bytes:
    data = bytearray(_good())
    end = data.rindex(b"PK\x05\x06")
    fields = list(EOCD.unpack_from(data, end))
    fields[3] = fields[4] = 5  # the directory holds 3
    EOCD.pack_into(data, end, *fields)
    return bytes(data)


def directory_past_the_end() -> bytes:
    data = bytearray(_good())
    end = data.rindex(b"PK\x05\x06")
    fields = list(EOCD.unpack_from(data, end))
    fields[6] = 0x7FFFFF00
    EOCD.pack_into(data, end, *fields)
    return bytes(data)


def stored_with_unequal_sizes() -> bytes:
    """A stored member whose compressed size says 40 bytes more than its uncompressed one:
    no read of it can ever succeed, so the upload is refused."""
    body = b"stored member " * 20
    return raw_zip(
        [
            Raw(b"hello.txt", b"hello\n", b"hello\n"),
            Raw(b"unequal.bin", body, body, usize=len(body) - 40),
            Raw(b"third.txt", b"third\n", b"third\n"),
        ]
    )


REFUSED = {
    50: corrupt_central_directory,
    51: truncated,
    52: overlapping,
    53: count_lies,
    54: directory_past_the_end,
    55: stored_with_unequal_sizes,
}


def stored_objects(world: World, job_id: int) -> list[str]:
    folder = world.storage / f"projects/1/jobs/{job_id}"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def insert_directly(world: World, job_id: int, data: bytes) -> None:
    """Store an object and its row behind the upload check, through the real adapters."""

    async def go() -> None:
        with ThreadPoolExecutor(2) as pool:
            objects = FilesystemObjectStore(world.storage, executor=pool)
            key = f"projects/1/jobs/{job_id}/{uuid.uuid4().hex}"
            info = await objects.put_stream(key, chunks([data]))
            store = open_metadata_store(world.database_url)
            try:
                await store.artifacts.insert_artifact(
                    Artifact(
                        job_id=job_id,
                        project_id=1,
                        file_type="archive",
                        file_format="zip",
                        filename="artifacts.zip",
                        size=info.size,
                        object_key=key,
                        etag=info.etag,
                        sha256=None,
                        expire_at=None,
                        created_at=utcnow(),
                    )
                )
            finally:
                store.close()

    asyncio.run(go())


@pytest.fixture(scope="module")
def refused(world: World) -> dict[int, bytes]:
    archives = {job_id: build() for job_id, build in REFUSED.items()}
    for job_id, data in archives.items():
        response = world.client.post(
            f"/api/v4/jobs/{job_id}/artifacts",
            headers={"JOB-TOKEN": job_token(job_id)},
            files={"file": ("artifacts.zip", data, "application/zip")},
        )
        assert response.status_code == 400, (job_id, response.text)
        assert response.json()["message"].startswith("400 Bad request")
        assert stored_objects(world, job_id) == []  # nothing left behind: object nor index
        assert [r for r in artifact_rows(world.database_url) if r["job_id"] == job_id] == []
        insert_directly(world, job_id, data)
    return archives


@pytest.mark.parametrize("job_id", sorted(REFUSED), ids=[f.__name__ for f in REFUSED.values()])
def test_archive_the_upload_refuses_gives_a_json_error_when_served(
    server: str, refused: dict[int, bytes], job_id: int
) -> None:
    """Stored behind the upload check (a restore, an older version): the lazy index rebuild
    meets the same damage on every read, so it is a 400 that names it, never a 500."""
    for target in (
        url(job_id, "hello.txt"),
        url(job_id, "third.txt"),
        f"{P}/jobs/{job_id}/artifacts_tree",
        f"{P}/jobs/{job_id}/artifacts/tree",
        f"{P}/jobs/{job_id}/artifacts_tree/archive",
    ):
        reply = raw_request(server, target)
        assert reply.status == 400, (target, reply.body[:200])
        assert_never_complete_and_wrong(reply)


def test_a_refused_archive_is_not_indexed_by_a_failed_read(
    server: str, world: World, refused: dict[int, bytes]
) -> None:
    raw_request(server, url(50, "hello.txt"))

    assert artifact_row(world.database_url, 50)["index_directory"] is None


# -- archives that pass the upload check ----------------------------------------------------------

BIG = noise(700_000, 31)
SMALL = b"small and stored\n"
TEXT = text(600_000, 32)


def lying_local_headers() -> bytes:
    return raw_zip(
        [
            Raw(b"huge-extra.txt", SMALL, SMALL, local_extra_len=60_000),
            Raw(b"shifted.bin", BIG, BIG, local_name_len=len(b"shifted.bin") + 4),
            Raw(b"shifted-small.txt", SMALL, SMALL, local_name_len=len(b"shifted-small.txt") + 4),
            Raw(
                b"shifted.txt",
                deflate_raw(TEXT),
                TEXT,
                method=DEFLATED,
                local_name_len=len(b"shifted.txt") + 2,
            ),
            Raw(b"padding.bin", noise(2000, 33), noise(2000, 33)),
        ]
    )


def wrong_crcs() -> bytes:
    return raw_zip(
        [
            Raw(b"bad-crc-small.txt", SMALL, SMALL, crc=zlib.crc32(SMALL) ^ 1),
            Raw(b"bad-crc-big.bin", BIG, BIG, crc=zlib.crc32(BIG) ^ 1),
            Raw(b"bad-crc.txt", deflate_raw(TEXT), TEXT, method=DEFLATED, crc=zlib.crc32(TEXT) ^ 1),
        ]
    )


BOMB_SIZE = 200 << 20
HONEST_SIZE = 64 << 20


def _zeros_deflated(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(size >> 20)) + packer.flush()


def bombs() -> bytes:
    bomb = _zeros_deflated(BOMB_SIZE)
    honest = _zeros_deflated(HONEST_SIZE)
    short = deflate_raw(b"x" * 1000)
    return raw_zip(
        [
            Raw(b"bomb.bin", bomb, b"", method=DEFLATED, crc=0, usize=1000),
            Raw(b"bomb-exact.bin", bomb, b"", method=DEFLATED, crc=0, usize=65536),
            Raw(b"bomb-big.bin", bomb, b"", method=DEFLATED, crc=0, usize=5 << 20),
            # Under two seek point spacings: not inflated at upload, found out when read.
            Raw(b"short.bin", short, b"x" * 1000, method=DEFLATED, usize=5_000_000),
            Raw(
                b"honest.bin",
                honest,
                b"",
                method=DEFLATED,
                crc=zlib.crc32(bytes(HONEST_SIZE)),
                usize=HONEST_SIZE,
            ),
        ]
    )


def garbled_deflate() -> bytes:
    stream = bytearray(deflate_raw(TEXT))
    middle = len(stream) // 2
    stream[middle : middle + 64] = b"\xff" * 64
    return raw_zip([Raw(b"garbled.txt", bytes(stream), TEXT, method=DEFLATED)])


UPLOADED = {60: lying_local_headers, 61: wrong_crcs, 62: bombs, 63: garbled_deflate}
ROT = 64
ROT_FILES = {"rot.bin": (BIG, zipfile.ZIP_STORED), "rot-small.txt": (SMALL, zipfile.ZIP_STORED)}
ROT_FILES["rot.txt"] = (TEXT, zipfile.ZIP_DEFLATED)


def _local_data_offset(data: bytes, name: str) -> tuple[int, int]:
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    fields = LOCAL.unpack_from(data, info.header_offset)
    return info.header_offset + LOCAL.size + fields[9] + fields[10], info.compress_size


@pytest.fixture(scope="module")
def uploaded(world: World) -> None:
    for job_id, build in UPLOADED.items():
        upload_archive(world.client, job_id, build())
    data = make_zip([Member(n, d, m) for n, (d, m) in ROT_FILES.items()])
    upload_archive(world.client, ROT, data)
    # Bit rot after the upload: flip bytes in place, keep size, inode and mtime, so the
    # object's ETag (and so its index) still match and only the CRC can tell.
    row = artifact_row(world.database_url, ROT)
    path = world.storage / row["object_key"]
    before = os.stat(path)
    with open(path, "r+b") as handle:
        for name in ROT_FILES:
            start, size = _local_data_offset(data, name)
            handle.seek(start + size // 2)
            byte = handle.read(1)
            handle.seek(start + size // 2)
            handle.write(bytes([byte[0] ^ 0x20]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))

    async def etag() -> str:
        with ThreadPoolExecutor(1) as pool:
            found = await FilesystemObjectStore(world.storage, executor=pool).head(
                row["object_key"]
            )
            return found.etag

    assert asyncio.run(etag()) == row["etag"]


@pytest.mark.parametrize(
    ("job_id", "name", "must_fail_before_headers"),
    [
        (60, "huge-extra.txt", True),
        (60, "shifted.bin", False),
        (60, "shifted-small.txt", True),
        (60, "shifted.txt", False),
        (61, "bad-crc-small.txt", True),
        (61, "bad-crc-big.bin", False),
        (61, "bad-crc.txt", False),
        (62, "bomb.bin", True),
        (62, "bomb-exact.bin", True),
        (62, "bomb-big.bin", False),
        (62, "short.bin", True),
        (63, "garbled.txt", False),
        (ROT, "rot.bin", False),
        (ROT, "rot-small.txt", True),
        (ROT, "rot.txt", False),
    ],
)
def test_damaged_member_is_an_error_or_an_aborted_body(
    server: str, uploaded: None, job_id: int, name: str, must_fail_before_headers: bool
) -> None:
    for target in (url(job_id, name), f"{P}/jobs/{job_id}/artifacts/{name}?again=1"):
        reply = raw_request(server, target)
        assert_never_complete_and_wrong(reply)
        assert reply.status != 500, "the same damage on every read: a 4xx, not a 500"
        if must_fail_before_headers:
            assert reply.status == 400, "the whole member fits one chunk: nothing may be sent"
            assert json.loads(reply.body)["message"].startswith("400 Bad request - damaged")


def test_folder_archive_copies_without_inflating_but_checks_local_headers(
    server: str, uploaded: None
) -> None:
    crcs = raw_request(server, f"{P}/jobs/61/artifacts_tree/archive")
    lies = raw_request(server, f"{P}/jobs/60/artifacts_tree/archive")

    assert (crcs.status, crcs.complete) == (200, True)  # bytes copied as stored, CRCs and all
    # Members found overlapping once their local headers are read: the chunked body is cut.
    assert (lies.status, lies.complete) == (200, False)


def test_bombs_are_stopped_in_bounded_time_and_memory(
    served: ServerProcess, uploaded: None
) -> None:
    server, pid = served.base_url, served.pid
    before = peak_rss_bytes(pid)

    stopped = [raw_request(server, url(62, name)) for name in ("bomb.bin", "bomb-exact.bin")]
    honest = raw_request(server, url(62, "honest.bin"))
    after = peak_rss_bytes(pid)

    assert all(reply.status == 400 for reply in stopped)
    assert all(b"decompresses past its declared size" in reply.body for reply in stopped)
    assert (honest.status, honest.complete, len(honest.body)) == (200, True, HONEST_SIZE)
    assert honest.body == bytes(HONEST_SIZE)
    print({"peak_rss_mib_before": before >> 20, "after": after >> 20})
    assert after - before < 64 << 20  # 64 MiB of zeros, streamed: the peak barely moves


BIG_TEXT = text(9 << 20, 35)  # over two seek point spacings (4 MiB)
# What the central directory says instead of the truth: (CRC-32, uncompressed size).
LARGE_LIES = {
    "CRC-32 mismatch in 'big.txt'": (zlib.crc32(BIG_TEXT) ^ 1, len(BIG_TEXT)),
    "'big.txt' is shorter than its declared size": (zlib.crc32(BIG_TEXT), len(BIG_TEXT) + 10),
    "'big.txt' decompresses past its declared size": (zlib.crc32(BIG_TEXT), len(BIG_TEXT) - 10),
}


@pytest.mark.parametrize(
    ("job_id", "damage"), list(zip((67, 68, 69), LARGE_LIES, strict=True)), ids=list(LARGE_LIES)
)
def test_a_large_deflated_member_that_lies_is_refused_at_upload(
    world: World, job_id: int, damage: str
) -> None:
    """Large deflated members are inflated once at upload to record their seek points, which
    checks them too: a 400 then, not a read that fails for ever after."""
    crc, usize = LARGE_LIES[damage]
    member = Raw(b"big.txt", deflate_raw(BIG_TEXT), BIG_TEXT, DEFLATED, crc=crc, usize=usize)
    response = world.client.post(
        f"/api/v4/jobs/{job_id}/artifacts",
        headers={"JOB-TOKEN": job_token(job_id)},
        files={"file": ("artifacts.zip", raw_zip([member]), "application/zip")},
    )

    assert response.status_code == 400, response.text
    assert response.json()["message"] == f"400 Bad request - damaged zip archive: {damage}"
    assert stored_objects(world, job_id) == []
    assert [r for r in artifact_rows(world.database_url) if r["job_id"] == job_id] == []


LONG_EXTRA = struct.pack("<HH", 0xCAFE, 60_000) + noise(60_000, 34)


def long_local_extra() -> bytes:
    """Honest, if unusual: a 60,000-byte extra field in the local header (the format allows
    64 KiB), far past the 1 KiB of slack the one ranged read of a member covers."""
    return raw_zip(
        [
            Raw(
                b"long-extra.txt", deflate_raw(TEXT), TEXT, method=DEFLATED, local_extra=LONG_EXTRA
            ),
            Raw(b"long-extra.bin", SMALL, SMALL, local_extra=LONG_EXTRA),
            Raw(b"after.txt", SMALL, SMALL),
        ]
    )


@pytest.fixture(scope="module")
def long_extra(world: World) -> None:
    upload_archive(world.client, 65, long_local_extra())


def test_a_local_header_longer_than_the_slack_is_served_with_a_second_read(
    server: str, long_extra: None
) -> None:
    for name, expected in (("long-extra.txt", TEXT), ("long-extra.bin", SMALL)):
        reply = raw_request(server, url(65, name))
        assert (reply.status, reply.complete, reply.body == expected) == (200, True, True), name
    zipped = raw_request(server, f"{P}/jobs/65/artifacts_tree/archive")
    assert (zipped.status, zipped.complete) == (200, True)
    with zipfile.ZipFile(io.BytesIO(zipped.body)) as copy:
        assert copy.read("long-extra.txt") == TEXT
        assert copy.read("after.txt") == SMALL


def test_a_clean_member_next_to_damaged_ones_is_served(server: str, uploaded: None) -> None:
    reply = raw_request(server, url(60, "padding.bin"))

    assert (reply.status, reply.complete, reply.body) == (200, True, noise(2000, 33))


def test_encrypted_and_unknown_methods_are_400_before_any_byte(server: str) -> None:
    for name in ("encrypted.txt", "method99.bin"):
        reply = raw_request(server, url(13, name))
        assert reply.status == 400
        assert json.loads(reply.body)["message"].startswith("400 Bad request")
