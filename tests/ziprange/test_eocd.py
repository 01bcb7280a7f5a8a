import struct
import zipfile

import pytest
from stream_zip import NO_COMPRESSION_64

from artifactsvc.errors import CorruptArchive, InvalidArchive
from artifactsvc.ziprange import BytesSource, CountingSource, locate_central_directory
from tests.support.zips import make_zip, stream_zip_bytes, tiny_members


def test_small_zip_is_located_with_one_read_of_the_whole_file() -> None:
    data = make_zip([("a.txt", b"hello", zipfile.ZIP_DEFLATED)])
    source = CountingSource(BytesSource(data))
    loc = locate_central_directory(source)
    assert source.calls == [("read", 0, len(data))]
    assert (loc.entry_count, loc.zip64) == (1, False)
    assert data[loc.cd_offset : loc.cd_offset + 4] == b"PK\x01\x02"


def test_longest_comment_still_needs_one_read() -> None:
    data = make_zip([("a.txt", b"x" * 200_000, zipfile.ZIP_STORED)], comment=b"PK\x05\x06" * 16383)
    source = CountingSource(BytesSource(data))
    loc = locate_central_directory(source)
    assert source.requests == 1
    assert loc.entry_count == 1


def test_zip64_end_records_are_read_from_the_same_suffix() -> None:
    data = stream_zip_bytes(tiny_members(70_000), method=NO_COMPRESSION_64)
    source = CountingSource(BytesSource(data))
    loc = locate_central_directory(source)
    assert source.requests == 1
    assert (loc.entry_count, loc.zip64) == (70_000, True)


def test_zip64_record_outside_the_suffix_costs_one_more_small_read() -> None:
    data = stream_zip_bytes([("a.txt", b"a")], method=NO_COMPRESSION_64)
    locator = data.rindex(b"PK\x06\x07")
    # Push the locator and EOCD away from the zip64 record (its offset is unchanged), and
    # give the EOCD the longest comment, so the suffix read no longer reaches the record.
    eocd = data[locator + 20 :]
    eocd = eocd[:20] + struct.pack("<H", 0xFFFF) + b"c" * 0xFFFF
    data = data[:locator] + b"\0" * 1000 + data[locator : locator + 20] + eocd
    source = CountingSource(BytesSource(data))
    loc = locate_central_directory(source)
    assert [call[2] for call in source.calls] == [22 + 0xFFFF + 20 + 56, 56]
    assert loc.entry_count == 1


def test_bytes_without_an_end_record_are_not_a_zip() -> None:
    with pytest.raises(InvalidArchive):
        locate_central_directory(BytesSource(b"definitely not a zip" * 1000))
    with pytest.raises(InvalidArchive):
        locate_central_directory(BytesSource(b"PK"))


def test_archive_cut_short_is_not_a_zip() -> None:
    data = make_zip([("a.txt", b"hello" * 1000, zipfile.ZIP_DEFLATED)])
    with pytest.raises(InvalidArchive):
        locate_central_directory(BytesSource(data[:-10]))


def test_directory_overlapping_the_end_record_is_corrupt() -> None:
    data = bytearray(make_zip([("a.txt", b"hello", zipfile.ZIP_STORED)]))
    eocd = data.rindex(b"PK\x05\x06")
    struct.pack_into("<I", data, eocd + 12, 10_000)  # CD size
    with pytest.raises(CorruptArchive):
        locate_central_directory(BytesSource(bytes(data)))


def test_more_entries_than_the_directory_can_hold_is_corrupt() -> None:
    data = bytearray(make_zip([("a.txt", b"hello", zipfile.ZIP_STORED)]))
    eocd = data.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", data, eocd + 8, 500, 500)
    with pytest.raises(CorruptArchive):
        locate_central_directory(BytesSource(bytes(data)))


def test_multi_disk_archive_is_refused() -> None:
    data = bytearray(make_zip([("a.txt", b"hello", zipfile.ZIP_STORED)]))
    eocd = data.rindex(b"PK\x05\x06")
    struct.pack_into("<H", data, eocd + 4, 1)
    with pytest.raises(InvalidArchive):
        locate_central_directory(BytesSource(bytes(data)))
