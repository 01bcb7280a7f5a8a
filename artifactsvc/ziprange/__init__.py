"""Zip logic over ranged reads, with no HTTP and no storage client in it.

    source      RangeSource port (read, stream), BytesSource, FileSource, CountingSource
    eocd        find the central directory from the archive's tail (1 read, 2 for far zip64)
    central     Entry, and central-directory entries parsed from a stream of chunks
    index       the persisted name index: IndexDirectory, lookup, listing, BucketCache
    build       build_index: the sidecar, in two passes with memory bounded by bucket count
    tree        the tree section: each folder's children, sorted, paged (format and reads)
    treebuild   the tree section from one external sort (runs), bounded memory
    runs        an external sort of byte strings: sorted runs spilled, merged back
    scatter     tagged records from a spill file into their buckets
    extents     overlap and bounds checks on members' byte ranges
    member      one member from one ranged read, inflated and verified as it streams
    decompress  Store, Deflate, LZMA inline; Deflate64 and bzip2 through stream-unzip
    writer      a zip of members copied still compressed (a folder of an archive)

Everything here is synchronous; the service runs it on its own thread pool.
"""

from artifactsvc.ziprange.build import build_index
from artifactsvc.ziprange.central import Entry, EntryKind, iter_entries
from artifactsvc.ziprange.eocd import CentralDirectoryLocation, locate_central_directory
from artifactsvc.ziprange.index import (
    UNCACHED,
    BucketCache,
    IndexDirectory,
    find_in_bucket,
    iter_index_buckets,
    iter_index_entries,
    lookup,
    lookup_cached,
    read_directory,
)
from artifactsvc.ziprange.member import (
    ensure_readable,
    iter_member,
    iter_raw_member,
    member_range,
    read_member,
    stored_slice_range,
)
from artifactsvc.ziprange.source import BytesSource, CountingSource, FileSource, RangeSource
from artifactsvc.ziprange.writer import iter_raw_members, write_zip

__all__ = [
    "UNCACHED",
    "BucketCache",
    "BytesSource",
    "CentralDirectoryLocation",
    "CountingSource",
    "Entry",
    "EntryKind",
    "FileSource",
    "IndexDirectory",
    "RangeSource",
    "build_index",
    "ensure_readable",
    "find_in_bucket",
    "iter_entries",
    "iter_index_buckets",
    "iter_index_entries",
    "iter_member",
    "iter_raw_member",
    "iter_raw_members",
    "locate_central_directory",
    "lookup",
    "lookup_cached",
    "member_range",
    "read_directory",
    "read_member",
    "stored_slice_range",
    "write_zip",
]
