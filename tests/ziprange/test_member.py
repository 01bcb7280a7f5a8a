import bz2
import io
import random
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable

import pytest
from stream_zip import ZIP_64, stream_zip

from artifactsvc.errors import CorruptArchive, DamagedArchive, InvalidArchive, MemberRangeOutside
from artifactsvc.ziprange import (
    BytesSource,
    CountingSource,
    Entry,
    iter_member,
    lookup,
    member_range,
    read_member,
)
from artifactsvc.ziprange.member import STORED_SEEK_THRESHOLD
from tests.support.lying_zips import (
    data_offset,
    local_offset,
    patch,
    set_flags,
    set_method,
    set_sizes,
)
from tests.support.zips import WHEN, index_of, make_zip, noise, stream_zip_bytes

TEXT = b"".join(b"line %d of some text, %s\n" % (i, b"abc" * (i % 7)) for i in range(20_000))
NAMES = [
    "stored.bin",
    "deflated.txt",
    "bzip2.txt",
    "lzma.txt",
    "empty.txt",
    "dir/ünï cödé.txt",
    'with space "quote" %20 + plus.txt',
    "a/raw/raw/b.txt",
]


def entry_of(data: bytes, name: str) -> Entry:
    indexed = index_of(data)
    entry = lookup(indexed.directory, BytesSource(indexed.sidecar), name)
    assert entry is not None
    return entry


def read(data: bytes, name: str, offset: int = 0, length: int | None = None) -> bytes:
    entry = entry_of(data, name)
    return b"".join(read_member(BytesSource(data), entry, offset=offset, length=length))


@pytest.fixture(scope="module")
def mixed() -> bytes:
    return make_zip(
        [
            ("stored.bin", TEXT, zipfile.ZIP_STORED),
            ("deflated.txt", TEXT, zipfile.ZIP_DEFLATED),
            ("bzip2.txt", TEXT, zipfile.ZIP_BZIP2),
            ("lzma.txt", TEXT, zipfile.ZIP_LZMA),
            ("empty.txt", b"", zipfile.ZIP_DEFLATED),
            ("dir/ünï cödé.txt", b"unicode", zipfile.ZIP_DEFLATED),
            ('with space "quote" %20 + plus.txt', b"odd", zipfile.ZIP_STORED),
            ("a/raw/raw/b.txt", b"raw segment", zipfile.ZIP_DEFLATED),
        ]
    )


@pytest.mark.parametrize("seekable", [True, False], ids=["sizes-in-header", "data-descriptor"])
def test_every_method_reads_back_as_zipfile_does_with_one_read(seekable: bool) -> None:
    data = make_zip(
        [(n, TEXT, m) for n, m in zip(NAMES[:4], (0, 8, 12, 14), strict=True)]
        + [("empty.txt", b"", 8), ("dir/ünï cödé.txt", b"u", 8)],
        seekable=seekable,
    )
    reference = zipfile.ZipFile(io.BytesIO(data))
    indexed = index_of(data)
    for info in reference.infolist():
        entry = lookup(indexed.directory, BytesSource(indexed.sidecar), info.filename)
        assert entry is not None
        assert bool(entry.flags & 0x08) is not seekable
        archive = CountingSource(BytesSource(data))
        assert b"".join(read_member(archive, entry)) == reference.read(info)
        assert archive.requests == (1 if info.file_size else 0)
        assert archive.bytes_read <= entry.compressed_size + 4096


def test_stream_zip_members_with_zip64_data_descriptors_read_back() -> None:
    data = stream_zip_bytes([("a.txt", TEXT), ("b.txt", b"")], method=ZIP_64)
    assert read(data, "a.txt") == TEXT
    assert read(data, "b.txt") == b""


def test_deflate64_goes_through_stream_unzip() -> None:
    rng = random.Random(7)
    words = [bytes(rng.choices(b"abcdefghij", k=rng.randint(2, 9))) for _ in range(300)]
    body = b" ".join(rng.choice(words) for _ in range(30_000))  # no 258-byte matches
    data = set_method(make_zip([("d64.txt", body, zipfile.ZIP_DEFLATED)]), "d64.txt", 9)
    assert read(data, "d64.txt") == body


@pytest.mark.parametrize("name", ["stored.bin", "deflated.txt", "bzip2.txt", "lzma.txt"])
def test_ranges_of_a_member_equal_the_matching_slice(mixed: bytes, name: str) -> None:
    for offset, length in [(0, 1), (0, 100_000), (12_345, 6_789), (len(TEXT) - 10, 10)]:
        assert read(mixed, name, offset=offset, length=length) == TEXT[offset : offset + length]
    assert read(mixed, name, offset=len(TEXT) - 5) == TEXT[-5:]
    assert read(mixed, name, offset=len(TEXT), length=10) == b""
    with pytest.raises(MemberRangeOutside):
        read(mixed, name, offset=len(TEXT) + 1)


def test_stored_range_reads_only_up_to_the_slice(mixed: bytes) -> None:
    entry = entry_of(mixed, "stored.bin")
    archive = CountingSource(BytesSource(mixed))
    assert b"".join(read_member(archive, entry, offset=1000, length=100)) == TEXT[1000:1100]
    assert archive.requests == 1 and archive.bytes_read <= 1100 + 30 + 1024 + 20


def test_far_slice_of_a_stored_member_costs_a_header_read_and_the_slice() -> None:
    body = bytes(range(256)) * 20_000
    data = make_zip([("big.bin", body, zipfile.ZIP_STORED)])
    entry = entry_of(data, "big.bin")
    archive = CountingSource(BytesSource(data))
    offset = STORED_SEEK_THRESHOLD + 777
    got = b"".join(read_member(archive, entry, offset=offset, length=5000))
    assert got == body[offset : offset + 5000]
    assert [verb for verb, _, _ in archive.calls] == ["read", "stream"]
    assert archive.calls[1][2] == 5000


def test_crc_mismatch_is_raised_after_the_bytes_have_streamed() -> None:
    data = make_zip([("s.bin", TEXT, zipfile.ZIP_STORED)])
    at = data_offset(data, "s.bin") + len(TEXT) - 1
    data = patch(data, at, "<B", data[at] ^ 0xFF)
    received = 0
    with pytest.raises(CorruptArchive, match="CRC"):
        for chunk in read_member(BytesSource(data), entry_of(data, "s.bin")):
            received += len(chunk)
    assert received == len(TEXT)


def test_flipped_byte_in_deflated_data_is_corrupt() -> None:
    data = make_zip([("d.txt", TEXT, zipfile.ZIP_DEFLATED)])
    at = data_offset(data, "d.txt") + 5000
    with pytest.raises(CorruptArchive):
        read(patch(data, at, "<B", data[at] ^ 0x55), "d.txt")


def deflate_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(size >> 20)) + compressor.flush()


def bzip2_bomb(size: int) -> bytes:
    compressor = bz2.BZ2Compressor(9)
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(size >> 20)) + compressor.flush()


@pytest.mark.parametrize(
    ("method", "bomb"),
    [(zipfile.ZIP_DEFLATED, deflate_bomb), (zipfile.ZIP_BZIP2, bzip2_bomb)],
    ids=["deflate", "bzip2"],
)
def test_zip_bomb_stops_at_the_declared_size_with_bounded_memory_and_time(
    method: int, bomb: Callable[[int], bytes]
) -> None:
    data = make_zip([("bomb", b"\0" * 1000, method)])  # declares 1000 bytes
    payload = bomb(256 << 20)
    start = data_offset(data, "bomb")
    csize = entry_of(data, "bomb").compressed_size
    data = data[:start] + payload + data[start + csize :]
    eocd = data.rindex(b"PK\x05\x06")
    cd_offset = int.from_bytes(data[eocd + 16 : eocd + 20], "little")
    data = patch(data, eocd + 16, "<I", cd_offset + len(payload) - csize)
    data = set_sizes(data, "bomb", csize=len(payload))
    entry = entry_of(data, "bomb")
    assert entry.uncompressed_size == 1000
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(CorruptArchive, match="past its declared size"):
        for _ in read_member(BytesSource(data), entry):
            pass
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20
    assert elapsed < 1


def test_archive_cut_inside_a_member_is_corrupt() -> None:
    data = make_zip([("d.txt", TEXT, zipfile.ZIP_DEFLATED), ("s.bin", TEXT, zipfile.ZIP_STORED)])
    for name in ("d.txt", "s.bin"):
        entry = entry_of(data, name)
        cut = BytesSource(data[: data_offset(data, name) + 1000])
        with pytest.raises(CorruptArchive, match="ends"):
            b"".join(read_member(cut, entry))


def test_local_header_lying_about_its_lengths_is_a_damaged_member() -> None:
    data = make_zip([("a.txt", TEXT, zipfile.ZIP_DEFLATED)])
    local = local_offset(data, "a.txt")
    with pytest.raises(DamagedArchive, match="ends inside"):
        read(patch(data, local + 28, "<H", 0xFFFF), "a.txt")
    with pytest.raises(CorruptArchive):
        read(patch(data, local + 26, "<H", 4), "a.txt")
    with pytest.raises(CorruptArchive, match="no local header"):
        read(patch(data, local, "<4s", b"XXXX"), "a.txt")


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_local_extra_longer_than_the_slack_costs_a_second_read_not_a_refusal(method: int) -> None:
    """The format allows 64 KiB of local extra field; the one ranged read covers 1 KiB of it."""
    extra = struct.pack("<HH", 0xCAFE, 60_000) + noise(60_000, 5)
    info = zipfile.ZipInfo("long.txt", date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = method
    info.extra = extra  # zipfile writes it into the local header as well
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(info, TEXT)
    data = buf.getvalue()
    assert data_offset(data, "long.txt") - local_offset(data, "long.txt") > 60_000
    source = CountingSource(BytesSource(data))
    entry = entry_of(data, "long.txt")

    assert b"".join(read_member(source, entry)) == TEXT
    assert source.requests == 2
    assert source.bytes_read <= 30 + len("long.txt") + len(extra) + entry.compressed_size + 1024


def test_deflate_stream_shorter_than_its_compressed_size_is_corrupt() -> None:
    data = make_zip([("a.txt", TEXT, zipfile.ZIP_DEFLATED), ("b", b"b" * 100, 0)])
    entry = entry_of(data, "a.txt")
    longer = entry._replace(compressed_size=entry.compressed_size + 20)
    with pytest.raises(CorruptArchive, match="after the end"):
        b"".join(read_member(BytesSource(data), longer))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_encrypted_member_is_refused_before_any_read() -> None:
    data = b"".join(stream_zip([("secret", WHEN, 0o100644, ZIP_64, (b"x",))], password="pw"))
    entry = entry_of(data, "secret")
    archive = CountingSource(BytesSource(data))
    with pytest.raises(InvalidArchive, match="encrypted"):
        read_member(archive, entry)
    assert archive.requests == 0
    zipcrypto = set_flags(make_zip([("z", b"zz", 0)]), "z", 0x1)
    with pytest.raises(InvalidArchive, match="encrypted"):
        read(zipcrypto, "z")


def test_unknown_method_is_refused() -> None:
    data = set_method(make_zip([("x", b"x", 0)]), "x", 95)
    with pytest.raises(InvalidArchive, match="method"):
        read(data, "x")


def test_member_range_and_iter_member_compose_over_any_chunking(mixed: bytes) -> None:
    for name in ("deflated.txt", "lzma.txt", "stored.bin"):
        entry = entry_of(mixed, name)
        start, length = member_range(entry, len(mixed))
        assert start == entry.local_header_offset
        assert length <= 30 + len(entry.raw_name) + 1024 + entry.compressed_size
        source = BytesSource(mixed, chunk_size=977)
        assert b"".join(iter_member(source.stream(start, length), entry)) == TEXT
