"""What the zip fuzzer checks of one input (`check`), whatever its bytes:

1. `build_index` either refuses it with a domain error or builds an index whose every entry
   `lookup` finds again by name, and whose entry count the directory states;
2. reading a member (`read_member`, all of it, and a slice) either raises a domain error or
   yields exactly `uncompressed_size` bytes, the slice being the same bytes as the whole;
3. where Python's zipfile opens the archive too, both list the same members (name, offset,
   sizes, method, CRC), and a member both read whole has the same bytes; a member zipfile
   finds a bad CRC in is never served whole by us.

Anything else that is raised (IndexError, struct.error, zlib.error, RecursionError...) is a
finding: the fuzzer stops on it. Memory is bounded by the fuzzer's -rss_limit_mb; the work
per input by reading members whole only up to `WHOLE_LIMIT` (beyond it, bounded slices).
"""

from __future__ import annotations

import io
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections import Counter

from artifactsvc.errors import CorruptArchive, InvalidInput, MemberRangeOutside
from artifactsvc.ziprange import (
    BytesSource,
    Entry,
    EntryKind,
    build_index,
    iter_index_entries,
    lookup,
    read_member,
)

# The errors the zip layer may raise on purpose: a bad upload (InvalidArchive and the other
# InvalidInput errors, such as a budget exceeded), a stored archive contradicting itself
# (CorruptArchive, DamagedMember), a range past a member's end.
ALLOWED = (InvalidInput, CorruptArchive, MemberRangeOutside)
WHOLE_LIMIT = 4 << 20  # read whole only members that inflate to at most this
MEMBERS_READ = 16  # per input
SLICE = 4096
SPILL = tempfile.mkdtemp(prefix="artifactsvc-fuzz-spill-")


class Finding(AssertionError):
    """An invariant broken without any exception: wrong bytes, a lost entry, a disagreement."""


def _whole(source: BytesSource, entry: Entry) -> bytes | None:
    try:
        return b"".join(read_member(source, entry))
    except ALLOWED:
        return None


def _slice(source: BytesSource, entry: Entry, offset: int, length: int) -> bytes | None:
    try:
        return b"".join(read_member(source, entry, offset=offset, length=length))
    except ALLOWED:
        return None


def _check_member(source: BytesSource, entry: Entry) -> bytes | None:
    size = entry.uncompressed_size
    if size > WHOLE_LIMIT:
        head = _slice(source, entry, 0, SLICE)
        if head is not None and len(head) != min(SLICE, size):
            raise Finding(f"{entry.name!r}: a slice of {len(head)} bytes, not {min(SLICE, size)}")
        return None
    whole = _whole(source, entry)
    if whole is None:
        return None
    if len(whole) != size:
        raise Finding(f"{entry.name!r}: {len(whole)} bytes served, {size} declared")
    if zlib.crc32(whole) != entry.crc32:
        raise Finding(f"{entry.name!r}: served whole with a CRC other than its entry's")
    offset = size // 3
    part = _slice(source, entry, offset, SLICE)
    if part is not None and part != whole[offset : offset + SLICE]:
        raise Finding(f"{entry.name!r}: the slice at {offset} differs from the whole")
    return whole


def _zipfile_view(data: bytes) -> zipfile.ZipFile | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return zipfile.ZipFile(io.BytesIO(data))
    except Exception:  # zipfile's own parsing is not under test: any refusal will do
        return None


def _zipfile_read(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | str:
    """The member's bytes, or why zipfile would not give them."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return archive.read(info)
    except Exception as error:  # any reason zipfile refuses is an answer
        return f"{type(error).__name__}: {error}"


def _described(entry: Entry) -> tuple[bytes, int, int, int, int, int]:
    return (
        # Names are compared as the bytes the directory holds: the two decode them apart on
        # purpose. The index reads a name without the UTF-8 flag as UTF-8 when it is valid
        # UTF-8 (GitLab's Workhorse, in Go, matches raw bytes, so such a name is found there
        # by its UTF-8 spelling), zipfile as cp437; and zipfile cuts a name at its first NUL.
        entry.raw_name,
        entry.local_header_offset,
        entry.compressed_size,
        entry.uncompressed_size,
        entry.method,
        entry.crc32,
    )


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The directory's bytes of the name zipfile read (before it cut the name at a NUL): its
    UTF-8 when flagged (bit 11), else cp437, which maps every byte to one character."""
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")


def check(data: bytes) -> None:
    source = BytesSource(data, chunk_size=4096)
    out = io.BytesIO()
    try:
        directory = build_index(source, out, etag="fuzz", spill_dir=SPILL)
    except ALLOWED:
        return
    sidecar = BytesSource(out.getvalue())
    entries = list(iter_index_entries(sidecar, directory))
    if len(entries) != directory.entry_count:
        raise Finding(f"{len(entries)} entries indexed, {directory.entry_count} declared")
    for entry in entries[:64]:
        found = lookup(directory, sidecar, entry.name)
        if found is None or found.name != entry.name:
            raise Finding(f"{entry.name!r} is indexed but not found by name")
    served: dict[str, bytes] = {}
    files = [entry for entry in entries if entry.kind == EntryKind.FILE]
    for entry in files[:MEMBERS_READ]:
        whole = _check_member(source, entry)
        if whole is not None:
            served.setdefault(entry.name, whole)
    _compare_with_zipfile(data, directory.cd_offset, entries, served)


def _ambiguous_end(data: bytes) -> bool:
    """The last end record's comment runs past the end of the data: zipfile reads that record
    anyway, the index (as Go's archive/zip, so GitLab's Workhorse) the last one that fits."""
    at = data.rfind(b"PK\x05\x06", max(0, len(data) - (22 + 0xFFFF)))
    if at < 0 or len(data) < at + 22:
        return False
    comment: int = struct.unpack_from("<H", data, at + 20)[0]
    return at + 22 + comment > len(data)


def _compare_with_zipfile(
    data: bytes, cd_offset: int, entries: list[Entry], served: dict[str, bytes]
) -> None:
    if _ambiguous_end(data):
        return
    archive = _zipfile_view(data)
    if archive is None:
        return
    with archive:
        if archive.start_dir != cd_offset:
            # Bytes before the archive (a self-extracting one): zipfile shifts every offset
            # by them, the index reads the offsets as written. Two readings, not compared.
            return
        infos = archive.infolist()
        ours = Counter(_described(entry) for entry in entries)
        theirs = Counter(
            (
                _raw_name(info),
                info.header_offset,
                info.compress_size,
                info.file_size,
                info.compress_type,
                info.CRC,
            )
            for info in infos
        )
        if ours != theirs:
            raise Finding(f"index and zipfile disagree: {ours - theirs} vs {theirs - ours}")
        names = Counter(info.filename for info in infos)
        served = {name.split("\0", 1)[0]: whole for name, whole in served.items()}
        for info in infos[:MEMBERS_READ]:
            whole = served.get(info.filename)
            if whole is None or names[info.filename] > 1:
                continue  # unread by us, or a duplicate name: which member is ambiguous
            read = _zipfile_read(archive, info)
            if isinstance(read, bytes) and read != whole:
                raise Finding(f"{info.filename!r}: our bytes differ from zipfile's")
            if isinstance(read, str) and "CRC" in read:
                raise Finding(f"{info.filename!r}: served whole, zipfile says {read}")
