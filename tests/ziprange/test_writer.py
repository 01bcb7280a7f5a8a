import io
import zipfile

import pytest
from stream_unzip import stream_unzip
from stream_zip import NO_COMPRESSION_64

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.ziprange import (
    BytesSource,
    CountingSource,
    iter_index_entries,
    iter_raw_members,
    write_zip,
)
from tests.support.zips import index_of, make_zip, stream_zip_bytes, tiny_members

BODY = b"".join(b"%d bottles of beer\n" % i for i in range(5000))


@pytest.fixture(scope="module")
def archive() -> bytes:
    return make_zip(
        [
            ("README", b"top", zipfile.ZIP_STORED),
            ("dist/", b"", zipfile.ZIP_STORED),
            ("dist/app.js", BODY, zipfile.ZIP_DEFLATED),
            ("dist/app.bin", BODY, zipfile.ZIP_STORED),
            ("dist/sub/ünï.txt", BODY, zipfile.ZIP_BZIP2),
            ("dist/sub/x.xz", BODY, zipfile.ZIP_LZMA),
            ("dist/empty", b"", zipfile.ZIP_DEFLATED),
            ("other/file", BODY, zipfile.ZIP_DEFLATED),
        ]
    )


def test_folder_copied_still_compressed_is_a_valid_zip(archive: bytes) -> None:
    indexed = index_of(archive)
    entries = [
        e for e in iter_index_entries(BytesSource(indexed.sidecar)) if e.name.startswith("dist/")
    ]
    source = CountingSource(BytesSource(archive))
    out = b"".join(write_zip(iter_raw_members(source, entries)))
    assert source.requests == 1  # neighbouring members share one ranged read
    copied, original = zipfile.ZipFile(io.BytesIO(out)), zipfile.ZipFile(io.BytesIO(archive))
    assert copied.testzip() is None
    assert sorted(copied.namelist()) == sorted(n for n in original.namelist() if n[:5] == "dist/")
    for info in copied.infolist():
        assert copied.read(info) == original.read(info.filename)
        assert info.compress_type == original.getinfo(info.filename).compress_type
    assert copied.getinfo("dist/").is_dir()
    assert copied.getinfo("dist/app.js").date_time == original.getinfo("dist/app.js").date_time


def test_copied_zip_streams_through_stream_unzip(archive: bytes) -> None:
    indexed = index_of(archive)
    # stream-unzip reads no LZMA; everything else, stored members included, must stream.
    entries = [e for e in iter_index_entries(BytesSource(indexed.sidecar)) if e.method != 14]
    out = write_zip(iter_raw_members(BytesSource(archive), entries))
    original = zipfile.ZipFile(io.BytesIO(archive))
    for name, _, chunks in stream_unzip(out):
        assert b"".join(chunks) == original.read(name.decode())


def test_renamed_members_keep_their_bytes(archive: bytes) -> None:
    indexed = index_of(archive)
    entries = [
        e._replace(name=e.name.removeprefix("dist/sub/"))
        for e in iter_index_entries(BytesSource(indexed.sidecar))
        if e.name.startswith("dist/sub/")
    ]
    out = zipfile.ZipFile(
        io.BytesIO(b"".join(write_zip(iter_raw_members(BytesSource(archive), entries))))
    )
    assert sorted(out.namelist()) == ["x.xz", "ünï.txt"]
    assert out.read("ünï.txt") == BODY


@pytest.mark.parametrize("force", [False, True], ids=["many-entries", "forced"])
def test_zip64_output_is_read_by_zipfile_and_by_our_index(force: bool) -> None:
    count = 70_000 if not force else 50
    data = stream_zip_bytes(tiny_members(count), method=NO_COMPRESSION_64)
    indexed = index_of(data)
    entries = list(iter_index_entries(BytesSource(indexed.sidecar)))
    out = b"".join(write_zip(iter_raw_members(BytesSource(data), entries), zip64=force))
    assert b"PK\x06\x06" in out[-200:]
    copied = zipfile.ZipFile(io.BytesIO(out))
    assert len(copied.infolist()) == count
    assert copied.testzip() is None
    assert copied.read("d3/f3.txt") == b"3"
    assert index_of(out).directory.entry_count == count


def test_member_bytes_disagreeing_with_the_entry_are_corrupt(archive: bytes) -> None:
    indexed = index_of(archive)
    (entry,) = [e for e in iter_index_entries(BytesSource(indexed.sidecar)) if e.name == "README"]
    with pytest.raises(CorruptArchive):
        b"".join(write_zip([(entry, [b"too long"])]))
    with pytest.raises(CorruptArchive):
        b"".join(write_zip([(entry, [b"t"])]))


def test_encrypted_member_is_not_copied(archive: bytes) -> None:
    indexed = index_of(archive)
    (entry,) = [e for e in iter_index_entries(BytesSource(indexed.sidecar)) if e.name == "README"]
    with pytest.raises(InvalidArchive, match="encrypted"):
        b"".join(write_zip([(entry._replace(flags=entry.flags | 1), [b"top"])]))
