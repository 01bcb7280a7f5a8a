import io
import tempfile
import zipfile

import pytest
from stream_zip import NO_COMPRESSION_64

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.ziprange import (
    UNCACHED,
    BucketCache,
    BytesSource,
    CountingSource,
    IndexDirectory,
    build_index,
    iter_index_buckets,
    iter_index_entries,
    lookup,
    lookup_cached,
    read_directory,
    read_member,
)
from tests.support.lying_zips import central_offsets, patch, reverse_central
from tests.support.zips import index_of, make_zip, stream_zip_bytes, tiny_members


@pytest.fixture(scope="module")
def ten_thousand() -> bytes:
    members = [
        (f"dir{i % 50}/file {i}.txt", (f"line {i}\n" * (i % 40)).encode(), zipfile.ZIP_DEFLATED)
        for i in range(10_000)
    ]
    return make_zip(members)


def test_cold_lookup_costs_one_bucket_read_and_one_member_read(ten_thousand: bytes) -> None:
    indexed = index_of(ten_thousand)
    row = IndexDirectory.from_bytes(indexed.directory.to_bytes())  # as kept in the database
    sidecar = CountingSource(BytesSource(indexed.sidecar))
    archive = CountingSource(BytesSource(ten_thousand))
    reference = zipfile.ZipFile(io.BytesIO(ten_thousand))
    for name in ("dir7/file 1207.txt", "dir0/file 9950.txt", "dir39/file 39.txt"):
        sidecar.reset()
        archive.reset()
        entry = lookup(row, sidecar, name)
        assert entry is not None
        body = b"".join(read_member(archive, entry))
        assert body == reference.read(name)
        assert sidecar.requests == 1
        assert sidecar.bytes_read == row.bucket_range(name)[1] <= 64 << 10
        assert archive.requests == 1
        assert archive.bytes_read <= entry.compressed_size + 4096


def test_warm_cache_and_empty_buckets_cost_no_sidecar_read(ten_thousand: bytes) -> None:
    indexed = index_of(ten_thousand)
    sidecar = CountingSource(BytesSource(indexed.sidecar))
    cache = BucketCache()
    assert lookup(indexed.directory, sidecar, "dir1/file 1.txt", cache) is not None
    assert sidecar.requests == 1
    assert lookup(indexed.directory, sidecar, "dir1/file 1.txt", cache) is not None
    assert sidecar.requests == 1
    assert lookup(indexed.directory, sidecar, "no such file", cache) is None
    assert sidecar.requests <= 2
    empty = index_of(make_zip([]))
    assert lookup(empty.directory, CountingSource(BytesSource(empty.sidecar)), "x") is None


def test_cached_lookup_answers_only_from_small_cached_buckets(ten_thousand: bytes) -> None:
    indexed = index_of(ten_thousand)
    directory = indexed.directory
    cache = BucketCache()
    name = "dir1/file 1.txt"
    bucket = directory.bucket_of(name)
    _, size = directory.bucket_span(bucket)
    assert lookup_cached(directory, name, cache, max_bytes=size) is UNCACHED
    assert (cache.hits, cache.misses) == (0, 0)  # the miss is counted by `lookup` alone
    entry = lookup(directory, BytesSource(indexed.sidecar), name, cache)
    assert entry is not None
    assert lookup_cached(directory, name, cache, max_bytes=size) == entry
    assert lookup_cached(directory, name, cache, max_bytes=size - 1) is UNCACHED
    same_bucket = next(
        n
        for n in (f"dir{i % 50}/nothing {i}" for i in range(10_000))
        if directory.bucket_of(n) == bucket
    )
    assert lookup_cached(directory, same_bucket, cache, max_bytes=size) is None
    empty = index_of(make_zip([]))
    assert lookup_cached(empty.directory, "x", BucketCache(), max_bytes=0) is None


def test_building_reads_the_archive_tail_once_and_the_directory_once(ten_thousand: bytes) -> None:
    archive = CountingSource(BytesSource(ten_thousand))
    with tempfile.TemporaryFile() as out:
        directory = build_index(archive, out, etag='"abc"')
    assert [verb for verb, _, _ in archive.calls] == ["read", "stream"]
    assert (directory.entry_count, directory.archive_size) == (10_000, len(ten_thousand))
    assert directory.archive_etag == '"abc"'
    assert 10 <= directory.bucket_count <= 40
    assert len(directory.to_bytes()) < 8 * directory.bucket_count + 200


def test_listing_from_the_sidecar_alone_returns_every_entry(ten_thousand: bytes) -> None:
    indexed = index_of(ten_thousand)
    sidecar = CountingSource(BytesSource(indexed.sidecar))
    assert read_directory(sidecar) == indexed.directory
    assert sidecar.requests == 1
    listed = list(iter_index_entries(BytesSource(indexed.sidecar)))
    reference = zipfile.ZipFile(io.BytesIO(ten_thousand)).infolist()
    assert sorted(e.name for e in listed) == sorted(i.filename for i in reference)
    by_name = {e.name: e for e in listed}
    for info in reference[:100]:
        assert by_name[info.filename].crc32 == info.CRC


def test_listing_by_bucket_is_one_read_that_keeps_a_names_repeats_together(
    ten_thousand: bytes,
) -> None:
    buf = io.BytesIO(ten_thousand)
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("dir3/file 3.txt", b"again")
    indexed = index_of(buf.getvalue())
    sidecar = CountingSource(BytesSource(indexed.sidecar))

    buckets = list(iter_index_buckets(sidecar, indexed.directory))

    assert sidecar.requests == 1
    assert len(buckets) == indexed.directory.bucket_count
    assert [e.name for b in buckets for e in b] == [
        e.name for e in iter_index_entries(BytesSource(indexed.sidecar))
    ]
    (holding,) = [b for b in buckets if any(e.name == "dir3/file 3.txt" for e in b)]
    assert [e.uncompressed_size for e in holding if e.name == "dir3/file 3.txt"] == [
        len("line 3\n" * 3),
        len(b"again"),
    ]


def test_repeated_name_resolves_to_its_first_entry() -> None:
    data = make_zip([("same", b"first", 0), ("other", b"", 0)])
    buf = io.BytesIO(data)
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "a") as zf:
        zf.writestr("same", b"second")
    indexed = index_of(buf.getvalue())
    entry = lookup(indexed.directory, BytesSource(indexed.sidecar), "same")
    assert entry is not None
    assert b"".join(read_member(BytesSource(buf.getvalue()), entry)) == b"first"


def test_zip64_archive_with_directory_out_of_order_is_indexed() -> None:
    data = reverse_central(stream_zip_bytes(tiny_members(70_000), method=NO_COMPRESSION_64))
    indexed = index_of(data)
    assert indexed.directory.entry_count == 70_000
    entry = lookup(indexed.directory, BytesSource(indexed.sidecar), f"d{69846 % 97}/f69846.txt")
    assert entry is not None
    assert b"".join(read_member(BytesSource(data), entry)) == b"69846"


def overlapping(data: bytes, name: str, onto: str) -> bytes:
    offsets = central_offsets(data)
    target = int.from_bytes(data[offsets[onto] + 42 : offsets[onto] + 46], "little")
    return patch(data, offsets[name] + 42, "<I", target + 10)


def test_overlapping_members_are_corrupt_in_or_out_of_directory_order() -> None:
    data = make_zip([("a", b"a" * 100, 0), ("b", b"b" * 100, 0), ("c", b"c" * 100, 0)])
    with pytest.raises(CorruptArchive, match="overlap"):
        index_of(overlapping(data, "c", "a"))
    with pytest.raises(CorruptArchive, match="overlap"):
        index_of(reverse_central(overlapping(data, "a", "b")))


def test_member_reaching_into_the_directory_is_corrupt() -> None:
    data = make_zip([("a", b"a" * 100, 0)])
    with pytest.raises(CorruptArchive, match="directory"):
        index_of(patch(data, central_offsets(data)["a"] + 20, "<I", 5000))


def test_one_name_repeated_until_a_bucket_overflows_is_refused() -> None:
    data = stream_zip_bytes((("x" * 40, b"") for _ in range(50_000)), method=NO_COMPRESSION_64)
    with pytest.raises(InvalidArchive, match="share a name"):
        index_of(data)


def test_damaged_directory_row_is_rejected(ten_thousand: bytes) -> None:
    row = bytearray(index_of(ten_thousand).directory.to_bytes())
    row[40] ^= 1
    with pytest.raises(CorruptArchive):
        IndexDirectory.from_bytes(bytes(row))
    with pytest.raises(CorruptArchive):
        IndexDirectory.from_bytes(bytes(row[:30]))


def test_bucket_cache_stays_within_its_byte_budget() -> None:
    cache = BucketCache(max_bytes=100)
    for i in range(10):
        cache.put((b"id", i), bytes(30))
    assert [cache.get((b"id", i)) is not None for i in range(10)] == [False] * 7 + [True] * 3
    cache.put((b"id", 99), bytes(101))
    assert cache.get((b"id", 99)) is None


@pytest.mark.parametrize(
    ("name", "refused"),
    [
        ("a/b/c", False),  # 3 folders deep: at the bound
        ("a/b/c/", False),  # a folder entry: its trailing `/` adds no depth
        ("a/b/c//", False),  # nor do two
        ("a/b/c/d", True),
        ("/a/b", False),  # a leading `/` is a (nameless) first segment: 3 deep
        ("/a/b/c", True),
        ("x" * 40, False),  # at the name bound, in bytes
        ("x" * 41, True),
        ("é" * 20, False),  # 40 bytes of UTF-8
        ("é" * 20 + "x", True),
    ],
)
def test_the_name_bounds_hold_exactly_at_their_limits(name: str, refused: bool) -> None:
    """build_index checks an entry only when it might break a bound (a pre-filter on the
    slash count and the length): the pre-filter must never skip one that does."""
    archive = make_zip([(name, b"" if name.endswith("/") else b"x", zipfile.ZIP_DEFLATED)])
    with tempfile.TemporaryFile() as out:

        def build() -> IndexDirectory:
            return build_index(
                BytesSource(archive), out, etag='"e"', max_depth=3, max_name_bytes=40
            )

        if refused:
            with pytest.raises(InvalidArchive):
                build()
        else:
            assert build().entry_count == 1
