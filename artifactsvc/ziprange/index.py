"""The persisted name index of one archive: format, lookup and listing.

An index is built once per archive (`build.build_index`, at upload) into a sidecar object:

    [directory][bucket 0 records][bucket 1 records]...[bucket B-1 records]

    directory = header | archive ETag | (B + 1) x u64 bucket offsets | [seek] | CRC-32 of all
    header    = magic, version, flags, archive size, entry count, CD offset, CD size, B, salt
    seek      = u64 offset, u64 length of the seek points' contents (flags bit 0; `seek.py`),
                which follow the buckets: [windows][a table per member][contents]
    record    = name len u16, raw-name len u16, kind u8 (bit 7: raw name stored), flags u16,
                method u16, mode u32, crc32 u32, local header offset u64, compressed size u64,
                uncompressed size u64, mtime i64, name (UTF-8), raw name (only when it differs)

An entry lives in bucket `blake2b(name, key=salt) mod B`. The salt is random per index, so an
uploader cannot choose names that pile into one bucket (only repeating one name can, and the
builder caps a bucket's size); it also serves as the index's identity for caching. B is one
per 32 KiB of central directory; index records are smaller than directory records, so a
bucket holds some 20-32 KiB. Buckets are contiguous, so B + 1 offsets describe them all (8
bytes a bucket, ~25 KiB for a million entries): the caller keeps `IndexDirectory.to_bytes()`
in its metadata row, and a cold lookup is then one ranged read of one bucket (none at all when
the bucket is empty, or with a warm `BucketCache`). Without that row, `read_directory` costs
one read of the sidecar's head (two for a directory over 64 KiB, i.e. beyond ~2.5M entries).

Within a bucket, records keep central-directory order, so a name stored twice resolves to its
first occurrence, as GitLab Workhorse does. `iter_index_entries` lists entries bucket by bucket:
that order is neither name order nor archive order; `iter_index_buckets` hands them over one
bucket at a time, so a listing can drop a name's repeats holding one bucket's names.
"""

from __future__ import annotations

import enum
import hashlib
import itertools
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from artifactsvc.errors import CorruptArchive
from artifactsvc.ziprange.central import Entry, EntryKind
from artifactsvc.ziprange.source import RangeSource

MAGIC = b"ZRIDX\r\n\x1a"
VERSION = 1
HEADER = struct.Struct("<8sHHQQQQI16sH")
RECORD = struct.Struct("<HHBHHIIQQQq")
_OFFSET = struct.Struct("<Q")
_SEEK = struct.Struct("<QQ")
FLAG_SEEK = 0x0001
FLAG_TREE = 0x0002
_TREE = struct.Struct("<QQI")
_CRC = struct.Struct("<I")
RAW_STORED = 0x80
_FIRST_READ = 1 << 16


@dataclass(frozen=True, slots=True)
class TreeLocation:
    """Where the tree section (`tree`) is in the sidecar, and its folder buckets' offsets."""

    offset: int
    length: int
    folder_offsets: tuple[int, ...]
    """F + 1 offsets from the section's start; folder bucket i is [i]:[i + 1]."""


@dataclass(frozen=True, slots=True)
class IndexDirectory:
    """Everything needed to find an entry's bucket; small enough for a database row."""

    archive_size: int
    archive_etag: str
    entry_count: int
    cd_offset: int
    cd_size: int
    salt: bytes
    offsets: tuple[int, ...]
    """B + 1 absolute offsets into the sidecar; bucket i is offsets[i]:offsets[i + 1]."""
    seek: tuple[int, int] | None = None
    """(offset, length) in the sidecar of the seek points' table of contents (`seek`); None
    for an index built before seek points existed (flags bit 0 clear)."""
    tree: TreeLocation | None = None
    """The folders' children for listings; None for an index built before the tree section
    existed (flags bit 1 clear): its listings walk the buckets."""

    @property
    def bucket_count(self) -> int:
        return len(self.offsets) - 1

    @property
    def index_id(self) -> bytes:
        return self.salt

    @property
    def sidecar_size(self) -> int:
        end = self.offsets[-1] if self.seek is None else max(self.offsets[-1], sum(self.seek))
        return end if self.tree is None else max(end, self.tree.offset + self.tree.length)

    def bucket_of(self, name: str | bytes) -> int:
        return bucket_of(_key(name), self.salt, self.bucket_count)

    def bucket_span(self, bucket: int) -> tuple[int, int]:
        start = self.offsets[bucket]
        return start, self.offsets[bucket + 1] - start

    def bucket_range(self, name: str | bytes) -> tuple[int, int]:
        """(offset, length) in the sidecar of the bucket that holds `name` if anything does."""
        return self.bucket_span(self.bucket_of(name))

    def to_bytes(self) -> bytes:
        etag = self.archive_etag.encode("utf-8")
        head = HEADER.pack(
            MAGIC,
            VERSION,
            (0 if self.seek is None else FLAG_SEEK) | (0 if self.tree is None else FLAG_TREE),
            self.archive_size,
            self.entry_count,
            self.cd_offset,
            self.cd_size,
            self.bucket_count,
            self.salt,
            len(etag),
        )
        body = head + etag + struct.pack(f"<{len(self.offsets)}Q", *self.offsets)
        if self.seek is not None:
            body += _SEEK.pack(*self.seek)
        if self.tree is not None:
            folders = self.tree.folder_offsets
            body += _TREE.pack(self.tree.offset, self.tree.length, len(folders) - 1)
            body += struct.pack(f"<{len(folders)}Q", *folders)
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def from_bytes(cls, data: bytes) -> IndexDirectory:
        if len(data) < HEADER.size:
            raise CorruptArchive("index directory truncated")
        magic, version, flags, size, count, cd_offset, cd_size, buckets, salt, etag_len = (
            HEADER.unpack_from(data)
        )
        if magic != MAGIC or version != VERSION:
            raise CorruptArchive("not an index of a known version")
        end = _length_of(data, flags, buckets, etag_len)
        if (
            end is None
            or len(data) < end
            or zlib.crc32(data[: end - 4]) != _CRC.unpack_from(data, end - 4)[0]
        ):
            raise CorruptArchive("index directory truncated or damaged")
        etag = data[HEADER.size : HEADER.size + etag_len].decode("utf-8")
        offsets = struct.unpack_from(f"<{buckets + 1}Q", data, HEADER.size + etag_len)
        if offsets[0] != end or any(a > b for a, b in zip(offsets, offsets[1:], strict=False)):
            raise CorruptArchive("index bucket offsets are not ascending")
        seek = None
        at = HEADER.size + etag_len + _OFFSET.size * (buckets + 1)
        if flags & FLAG_SEEK:
            seek = _SEEK.unpack_from(data, at)
            at += _SEEK.size
        tree = None
        if flags & FLAG_TREE:
            tree_offset, tree_length, folder_buckets = _TREE.unpack_from(data, at)
            folders = struct.unpack_from(f"<{folder_buckets + 1}Q", data, at + _TREE.size)
            if any(a > b for a, b in zip(folders, folders[1:], strict=False)):
                raise CorruptArchive("index folder offsets are not ascending")
            if folders[-1] > tree_length:
                raise CorruptArchive("index folder offsets beyond its tree section")
            tree = TreeLocation(tree_offset, tree_length, folders)
        return cls(size, etag, count, cd_offset, cd_size, salt, offsets, seek, tree)


def directory_length(
    bucket_count: int, etag_len: int, *, seek: bool = False, folder_buckets: int | None = None
) -> int:
    extra = _SEEK.size if seek else 0
    if folder_buckets is not None:
        extra += _TREE.size + _OFFSET.size * (folder_buckets + 1)
    return HEADER.size + etag_len + _OFFSET.size * (bucket_count + 1) + extra + _CRC.size


def _length_of(data: bytes, flags: int, buckets: int, etag_len: int) -> int | None:
    """The directory's length from its header, None while `data` is too short to tell (the
    folder bucket count sits after the bucket offsets)."""
    seek = bool(flags & FLAG_SEEK)
    if not flags & FLAG_TREE:
        return directory_length(buckets, etag_len, seek=seek)
    at = directory_length(buckets, etag_len, seek=seek) - _CRC.size
    if len(data) < at + _TREE.size:
        return None
    folder_buckets = _TREE.unpack_from(data, at)[2]
    return directory_length(buckets, etag_len, seek=seek, folder_buckets=folder_buckets)


def bucket_of(key: bytes, salt: bytes, bucket_count: int) -> int:
    digest = hashlib.blake2b(key, digest_size=8, key=salt).digest()
    return int.from_bytes(digest, "little") % bucket_count


def bucketer(salt: bytes, bucket_count: int) -> Callable[[bytes], int]:
    """`bucket_of` for one index, for the build's loop: copying a keyed hasher costs half
    of making one."""
    keyed = hashlib.blake2b(digest_size=8, key=salt)
    from_bytes = int.from_bytes

    def bucket(key: bytes) -> int:
        hasher = keyed.copy()
        hasher.update(key)
        return from_bytes(hasher.digest(), "little") % bucket_count

    return bucket


def _key(name: str | bytes) -> bytes:
    return name.encode("utf-8") if isinstance(name, str) else name


def encode_record(entry: Entry, key: bytes | None = None) -> bytes:
    """The entry's record; `key` is `entry.key`, passed when the caller has it already."""
    if key is None:
        key = entry.key
    raw = b"" if entry.raw_name == key else entry.raw_name
    info = int(entry.kind) | (RAW_STORED if raw else 0)
    head = RECORD.pack(
        len(key),
        len(raw),
        info,
        entry.flags,
        entry.method,
        entry.mode,
        entry.crc32,
        entry.local_header_offset,
        entry.compressed_size,
        entry.uncompressed_size,
        entry.mtime,
    )
    return head + key + raw


def record_length(buf: bytes | bytearray | memoryview, pos: int) -> int:
    """Length of the record at `pos`, read from its first five bytes."""
    name_len: int = buf[pos] | buf[pos + 1] << 8
    if buf[pos + 4] & RAW_STORED:
        return RECORD.size + name_len + (buf[pos + 2] | buf[pos + 3] << 8)
    return RECORD.size + name_len


def decode_record(buf: bytes | bytearray | memoryview, pos: int) -> Entry:
    (name_len, raw_len, info, flags, method, mode, crc, offset, csize, usize, mtime) = (
        RECORD.unpack_from(buf, pos)
    )
    start = pos + RECORD.size
    key = bytes(buf[start : start + name_len])
    raw = bytes(buf[start + name_len : start + name_len + raw_len]) if info & RAW_STORED else key
    try:
        name = key.decode("utf-8")
        kind = EntryKind(info & 0x7F)
    except (UnicodeDecodeError, ValueError):
        raise CorruptArchive("index record damaged") from None
    return Entry(name, raw, offset, csize, usize, method, crc, flags, mode, kind, mtime)


def find_in_bucket(bucket: bytes, name: str | bytes) -> Entry | None:
    """The first entry named `name` in one bucket's bytes, or None."""
    key = _key(name)
    size = len(key)
    pos, end = 0, len(bucket)
    while pos + RECORD.size <= end:
        name_len = bucket[pos] | bucket[pos + 1] << 8
        start = pos + RECORD.size
        if name_len == size and bucket[start : start + size] == key:
            return decode_record(bucket, pos)
        pos += record_length(bucket, pos)
    if pos != end:
        raise CorruptArchive("index bucket damaged")
    return None


class BucketCache:
    """A thread-safe LRU of bucket bytes, keyed by (index id, bucket), bounded in bytes."""

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self._max = max_bytes
        self._used = 0
        self._items: OrderedDict[tuple[bytes, int], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[bytes, int]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
            else:
                self.misses += 1
            return value

    def peek(self, key: tuple[bytes, int]) -> bytes | None:
        """`get` whose miss is not counted: the caller asks `get` next (`lookup`)."""
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                self.hits += 1
            return value

    def put(self, key: tuple[bytes, int], value: bytes) -> None:
        if len(value) > self._max:
            return
        with self._lock:
            old = self._items.pop(key, None)
            self._used += len(value) - (len(old) if old is not None else 0)
            self._items[key] = value
            while self._used > self._max:
                _, dropped = self._items.popitem(last=False)
                self._used -= len(dropped)


def lookup(
    directory: IndexDirectory,
    sidecar: RangeSource,
    name: str | bytes,
    cache: BucketCache | None = None,
) -> Entry | None:
    """Find `name`: at most one read of the sidecar, none when cached or the bucket is empty."""
    bucket = directory.bucket_of(name)
    start, length = directory.bucket_span(bucket)
    if length == 0:
        return None
    key = (directory.index_id, bucket)
    data = cache.get(key) if cache is not None else None
    if data is None:
        data = sidecar.read(start, length)
        if len(data) != length:
            raise CorruptArchive("index sidecar shorter than its directory says")
        if cache is not None:
            cache.put(key, data)
    return find_in_bucket(data, name)


class Uncached(enum.Enum):
    """`lookup_cached` could not answer without reading the sidecar."""

    UNCACHED = enum.auto()


UNCACHED = Uncached.UNCACHED


def lookup_cached(
    directory: IndexDirectory, name: str | bytes, cache: BucketCache, *, max_bytes: int
) -> Entry | None | Uncached:
    """`lookup` without any read: the answer when the name's bucket is empty, or is cached
    and at most `max_bytes` (the scan is then short enough to make where the caller is,
    the event loop included); else UNCACHED."""
    bucket = directory.bucket_of(name)
    start, length = directory.bucket_span(bucket)
    if length == 0:
        return None
    if length > max_bytes:
        return UNCACHED
    data = cache.peek((directory.index_id, bucket))
    if data is None:
        return UNCACHED
    return find_in_bucket(data, name)


def read_directory(sidecar: RangeSource) -> IndexDirectory:
    """Load the directory from the sidecar itself: one read, or two for a very large index."""
    head = sidecar.read(0, _FIRST_READ)
    if len(head) < HEADER.size:
        raise CorruptArchive("index sidecar truncated")
    fields = HEADER.unpack_from(head)
    flags, buckets, etag_len = fields[2], fields[7], fields[9]
    length = _length_of(head, flags, buckets, etag_len)
    if length is None:
        # The tree's folder count lies past the first read: read up to it, then the rest.
        upto = directory_length(buckets, etag_len, seek=bool(flags & FLAG_SEEK)) + _TREE.size
        head += sidecar.read(len(head), upto - len(head))
        length = _length_of(head, flags, buckets, etag_len)
        if length is None:
            raise CorruptArchive("index sidecar truncated")
    if length > len(head):
        head += sidecar.read(len(head), length - len(head))
    return IndexDirectory.from_bytes(head[:length])


def iter_index_entries(
    sidecar: RangeSource, directory: IndexDirectory | None = None
) -> Iterator[Entry]:
    """Every entry, bucket by bucket (not name-sorted), from one streamed read of the buckets."""
    if directory is None:
        directory = read_directory(sidecar)
    start, end = directory.offsets[0], directory.offsets[-1]
    buf = bytearray()
    pos = 0
    seen = 0
    for chunk in sidecar.stream(start, end - start):
        del buf[:pos]
        pos = 0
        buf += chunk
        while len(buf) - pos >= RECORD.size and len(buf) - pos >= record_length(buf, pos):
            yield decode_record(buf, pos)
            seen += 1
            pos += record_length(buf, pos)
    if pos != len(buf) or seen != directory.entry_count:
        raise CorruptArchive("index sidecar truncated or damaged")


def iter_index_buckets(
    sidecar: RangeSource, directory: IndexDirectory | None = None
) -> Iterator[list[Entry]]:
    """Every entry, one list a bucket (each in central-directory order), from one streamed
    read of the buckets. Every entry of one name is in the same bucket."""
    if directory is None:
        directory = read_directory(sidecar)
    offsets = directory.offsets
    chunks = iter(sidecar.stream(offsets[0], offsets[-1] - offsets[0]))
    buf = bytearray()
    pos = 0
    seen = 0
    for start, end in itertools.pairwise(offsets):
        size = end - start
        while len(buf) - pos < size:
            chunk = next(chunks, None)
            if chunk is None:
                raise CorruptArchive("index sidecar truncated or damaged")
            del buf[:pos]
            pos = 0
            buf += chunk
        bucket = _decode_bucket(buf, pos, pos + size)
        seen += len(bucket)
        pos += size
        yield bucket
    if seen != directory.entry_count:
        raise CorruptArchive("index sidecar truncated or damaged")


def _decode_bucket(buf: bytearray, pos: int, end: int) -> list[Entry]:
    entries = []
    while pos + RECORD.size <= end:
        entries.append(decode_record(buf, pos))
        pos += record_length(buf, pos)
    if pos != end:
        raise CorruptArchive("index bucket damaged")
    return entries
