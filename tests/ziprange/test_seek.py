"""Deflate seek points: recorded at index time in large deflated members, and reads deep into
them start at the last point before their offset, inflating about one spacing."""

from __future__ import annotations

import random
import tempfile
import zlib

import pytest

from artifactsvc.errors import CorruptArchive
from artifactsvc.ziprange import BytesSource, CountingSource, IndexDirectory, build_index, lookup
from artifactsvc.ziprange.control import WorkControl
from artifactsvc.ziprange.member import read_member
from artifactsvc.ziprange.seek import scan
from artifactsvc.ziprange.seekindex import choose_point
from tests.support.lying_zips import Raw, deflate_raw, raw_zip
from tests.support.zips import DEFLATED, Member, MiB, index_of, make_zip, noise, text

SPACING = 1 * MiB


def mixed(size: int, seed: int) -> bytes:
    """Text, incompressible runs (stored blocks) and long repeats, interleaved."""
    rng = random.Random(seed)
    parts, total = [], 0
    while total < size:
        kind = rng.randrange(3)
        part = (
            text(rng.randrange(1, 400_000), seed + total)
            if kind == 0
            else noise(rng.randrange(1, 300_000), seed + total)
            if kind == 1
            else bytes([rng.randrange(256)]) * rng.randrange(1, 500_000)
        )
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def indexed(archive: bytes) -> tuple[IndexDirectory, bytes]:
    with tempfile.TemporaryFile() as out:
        directory = build_index(
            BytesSource(archive), out, etag='"e"', seek_spacing=SPACING, seek_budget=1 << 40
        )
        out.seek(0)
        return directory, out.read()


@pytest.mark.parametrize("level", [1, 6, 9])
def test_a_range_anywhere_in_a_large_member_reads_the_same_bytes_from_a_seek_point(
    level: int,
) -> None:
    data = mixed(12 * MiB, level)
    archive = raw_zip([Raw(b"big.bin", deflate_raw(data, level=level), data, method=DEFLATED)])
    directory, sidecar = indexed(archive)
    entry = lookup(directory, BytesSource(sidecar), "big.bin")
    assert entry is not None and directory.seek is not None
    rng = random.Random(level)
    # Past the first point (the first block boundary after one spacing of output).
    deep = range(2 * SPACING, len(data))
    for offset in [2 * SPACING, 3 * SPACING + 1, len(data) - 1, *rng.sample(deep, 20)]:
        point = choose_point(BytesSource(sidecar), directory, entry, offset)
        assert point is not None and point.out <= offset < point.out + 2 * SPACING
        inflated: list[int] = []
        source = CountingSource(BytesSource(archive))
        got = b"".join(
            read_member(
                source,
                entry,
                offset=offset,
                length=100,
                point=point,
                control=WorkControl(inflated.append),
            )
        )
        assert got == data[offset : offset + 100], offset
        assert sum(inflated) <= offset - point.out + 100 + (1 << 16)
        assert source.requests == 2  # the local header, then the compressed bytes from the point


def test_points_are_about_one_spacing_apart_and_their_windows_are_stored_compressed() -> None:
    data = text(20 * MiB, 3)
    raw = deflate_raw(data)
    archive = raw_zip([Raw(b"t.txt", raw, data, method=DEFLATED)])
    directory, sidecar = indexed(archive)
    entry = lookup(directory, BytesSource(sidecar), "t.txt")
    assert entry is not None
    points = list(scan([raw], entry, SPACING))
    gaps = [b.out - a.out for a, b in zip(points, points[1:], strict=False)]

    assert 15 <= len(points) <= 20
    assert all(SPACING <= gap < 2 * SPACING for gap in gaps)
    assert all(len(point.window) == 32 << 10 for point in points)
    # The seek section costs far less than the windows it keeps (text compresses).
    assert len(sidecar) - directory.offsets[-1] < len(points) * (32 << 10) // 2


def test_small_members_and_indexes_without_seek_points_read_from_the_start() -> None:
    data = text(SPACING * 3 // 2, 4)
    archive = make_zip([Member("small.txt", data, DEFLATED)])
    directory, sidecar = indexed(archive)
    old = index_of(archive)  # built without seek points, as before they existed
    entry = lookup(directory, BytesSource(sidecar), "small.txt")
    assert entry is not None

    assert directory.seek is not None
    assert choose_point(BytesSource(sidecar), directory, entry, SPACING + 1) is None  # too short
    assert old.directory.seek is None
    assert IndexDirectory.from_bytes(old.directory.to_bytes()) == old.directory
    assert IndexDirectory.from_bytes(directory.to_bytes()) == directory
    assert choose_point(BytesSource(old.sidecar), old.directory, entry, SPACING + 1) is None


def test_a_large_member_that_lies_is_refused_when_its_points_are_recorded() -> None:
    data = text(4 * MiB, 5)
    raw = deflate_raw(data)
    lies = [
        Raw(b"crc.txt", raw, data, method=DEFLATED, crc=zlib.crc32(data) ^ 1),
        Raw(b"size.txt", raw, data, method=DEFLATED, usize=len(data) - 1),
        Raw(b"short.txt", raw, data, method=DEFLATED, usize=len(data) + 1),
        Raw(b"cut.txt", raw[: len(raw) // 2], data, method=DEFLATED),
    ]
    for member in lies:
        with pytest.raises(CorruptArchive, match=r"CRC|size|ends early|shorter"):
            indexed(raw_zip([member]))
