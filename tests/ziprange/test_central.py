import io
import stat
import struct
import zipfile
import zlib

import pytest
from stream_zip import NO_COMPRESSION_32, NO_COMPRESSION_64, ZIP_32, ZIP_64

from artifactsvc.errors import CorruptArchive
from artifactsvc.ziprange import BytesSource, Entry, EntryKind, central, iter_entries
from artifactsvc.ziprange.central import CENTRAL
from artifactsvc.ziprange.eocd import locate_central_directory
from tests.support.lying_zips import central_offsets, patch
from tests.support.zips import WHEN, add_info, central_directory_span, make_zip, stream_zip_bytes


def entries(data: bytes, chunk_size: int = 7) -> list[Entry]:
    source = BytesSource(data, chunk_size=chunk_size)
    loc = locate_central_directory(source)
    return list(iter_entries(source.stream(loc.cd_offset, loc.cd_size), loc.entry_count))


def test_entries_match_zipfile_whatever_the_chunking() -> None:
    names = ["a.txt", "dir/", "dir/ünï cödé.txt", 'q "quoted" %41 + sign.txt', "a/raw/raw/b"]
    data = make_zip([(n, n.encode() * 50, zipfile.ZIP_DEFLATED) for n in names])
    expected = zipfile.ZipFile(io.BytesIO(data)).infolist()
    for chunk_size in (1, 7, 1 << 16):
        got = entries(data, chunk_size)
        assert [e.name for e in got] == names
        for entry, info in zip(got, expected, strict=True):
            assert entry.raw_name == info.orig_filename.encode("utf-8")
            assert (entry.local_header_offset, entry.crc32) == (info.header_offset, info.CRC)
            assert (entry.compressed_size, entry.uncompressed_size) == (
                info.compress_size,
                info.file_size,
            )


def test_kinds_and_modes_come_from_unix_attributes_and_names() -> None:
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = add_info(make_zip([("d/", b"", 0), ("f", b"x", 0)]), link, b"f")
    dos_dir = zipfile.ZipInfo("dosdir/")
    dos_dir.create_system = 0
    dos_dir.external_attr = 0x10
    data = add_info(data, dos_dir, b"")
    got = {e.name: e for e in entries(data)}
    assert got["d/"].kind is EntryKind.DIRECTORY and stat.S_ISDIR(got["d/"].mode)
    assert got["f"].kind is EntryKind.FILE and got["f"].mode == 0o100644
    assert got["link"].kind is EntryKind.SYMLINK and stat.S_ISLNK(got["link"].mode)
    assert got["dosdir/"].kind is EntryKind.DIRECTORY and got["dosdir/"].mode == 0o40755


def test_name_without_utf8_flag_is_read_as_utf8_when_valid_as_gitlab_does() -> None:
    data = add_info(make_zip([("x", b"", 0)]), zipfile.ZipInfo("caf\u00e9.txt"), b"")
    data = patch(data, central_offsets(data)["caf\u00e9.txt"] + 8, "<H", 0)  # clear bit 11
    assert entries(data)[1].name == "caf\u00e9.txt"


def test_name_without_utf8_flag_that_is_not_utf8_is_cp437() -> None:
    data = add_info(make_zip([("x", b"", 0)]), zipfile.ZipInfo("caf\u00e9.txt"), b"")
    at = central_offsets(data)["caf\u00e9.txt"]
    data = patch(data, at + 8, "<H", 0)  # clear bit 11
    raw = "caf\u00e9.txt".encode("cp437")  # one byte 0x82: not valid UTF-8
    name_at = at + 46
    old = "caf\u00e9.txt".encode()
    data = data[:name_at] + raw + b" " * (len(old) - len(raw)) + data[name_at + len(old) :]
    assert entries(data)[1].name == (raw + b" ").decode("cp437")


def unicode_path_zip(raw: bytes, crc: int) -> bytes:
    upath = b"\x01" + struct.pack("<I", crc) + "café ünï.txt".encode()
    info = zipfile.ZipInfo("?" * len(raw))
    info.extra = struct.pack("<HH", 0x7075, len(upath)) + upath
    data = add_info(make_zip([]), info, b"")
    at = central_offsets(data)[info.filename] + 46
    return data[:at] + raw + data[at + len(raw) :]


def test_unicode_path_extra_names_a_cp437_entry_when_its_crc_matches() -> None:
    raw = b"caf\x82.txt"  # CP437 for "café.txt"
    (entry,) = entries(unicode_path_zip(raw, zlib.crc32(raw)))
    assert entry.name == "café ünï.txt" and entry.raw_name == raw
    (stale,) = entries(unicode_path_zip(raw, zlib.crc32(b"other")))
    assert stale.name == "café.txt"


def test_mtime_prefers_extended_timestamp_over_dos_time() -> None:
    (stamped,) = entries(stream_zip_bytes([("a", b"a")]))
    assert stamped.mtime == int(WHEN.timestamp())
    (dos,) = entries(make_zip([("a", b"a", 0)]))
    assert dos.mtime == int(WHEN.timestamp())  # make_zip writes the same wall time, read as UTC


def test_zip64_extra_supplies_sizes_and_offsets() -> None:
    data = stream_zip_bytes([("a", b"a" * 1000), ("b", b"b" * 10)], method=ZIP_64)
    got = entries(data)
    assert [(e.uncompressed_size, e.method) for e in got] == [(1000, 8), (10, 8)]
    assert got[1].local_header_offset > 0
    assert got[0].flags & 0x08  # stream_zip writes data descriptors


def test_garbage_in_the_directory_is_corrupt() -> None:
    data = make_zip([("a", b"a", 0), ("b", b"b", 0)])
    at = central_offsets(data)["b"]
    with pytest.raises(CorruptArchive, match="signature"):
        entries(patch(data, at, "<4s", b"JUNK"))


def test_entry_count_disagreeing_with_the_directory_is_corrupt() -> None:
    data = make_zip([("a", b"a", 0), ("b", b"b", 0)])
    source = BytesSource(data)
    loc = locate_central_directory(source)
    with pytest.raises(CorruptArchive):
        list(iter_entries(source.stream(loc.cd_offset, loc.cd_size), 3))
    with pytest.raises(CorruptArchive):
        list(iter_entries(source.stream(loc.cd_offset, loc.cd_size), 1))
    with pytest.raises(CorruptArchive):
        list(iter_entries(source.stream(loc.cd_offset, loc.cd_size - 3), 2))


def test_missing_zip64_extra_is_corrupt() -> None:
    data = make_zip([("a", b"a", 0)])
    at = central_offsets(data)["a"]
    with pytest.raises(CorruptArchive, match="zip64"):
        entries(patch(data, at + 42, "<I", 0xFFFFFFFF))


def test_the_fast_path_reads_every_field_as_the_general_path_does() -> None:
    # stream_zip flags names UTF-8 and writes zip64 and extended-timestamp extras: the case
    # iter_entries decides inline. The general `_entry` is the reference for each header.
    members = [(f"d{i % 3}/é{i}.txt", b"x" * i) for i in range(1, 40)] + [("dir/", b"")]
    for method in (ZIP_64, ZIP_32, NO_COMPRESSION_64, NO_COMPRESSION_32):
        data = stream_zip_bytes(members, method=method)
        got = entries(data)
        offset, size = central_directory_span(data)
        pos, expected = offset, []
        while pos < offset + size:
            fields = CENTRAL.unpack_from(data, pos)
            name_end = pos + CENTRAL.size + fields[10]
            raw = data[pos + CENTRAL.size : name_end]
            expected.append(central._entry(fields, raw, data, name_end, name_end + fields[11]))
            pos = name_end + fields[11] + fields[12]
        assert got == expected
