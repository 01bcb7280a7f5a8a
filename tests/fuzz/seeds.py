"""The zip fuzzer's seed corpus: the hostile archives the tests build, written to a folder at
fuzz time (nothing binary is kept in the repository).

From tests/files/test_broken_archives.py, every archive the upload refuses and every damaged
one it accepts (lying local headers, wrong CRCs, bombs, garbled Deflate); from
tests/support/lying_zips.py, members that lie about sizes, names and methods, shared local
headers, a Deflate64 far copy; and honest archives of every method, with data descriptors,
zip64 records, symlinks, folders and Unicode names, so the fuzzer starts from both sides of
each check.
"""

from __future__ import annotations

import hashlib
import stat
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from stream_zip import ZIP_64 as STREAM_ZIP_64

from tests.files import test_broken_archives as broken
from tests.support.lying_zips import (
    Raw,
    deflate64_far_copy,
    deflate_raw,
    raw_zip,
    reverse_central,
    set_flags,
    set_method,
    set_sizes,
)
from tests.support.zips import (
    BZIP2,
    DEFLATE64,
    DEFLATED,
    LZMA,
    STORED,
    Member,
    make_zip,
    stream_zip_bytes,
    text,
)

TEXT = text(20_000, 7)
SMALL = b"small and stored\n"


def _honest() -> Iterator[bytes]:
    members = [
        Member("stored.txt", TEXT, STORED),
        Member("deflated.txt", TEXT, DEFLATED),
        Member("bzip2.txt", TEXT, BZIP2),
        Member("lzma.txt", TEXT, LZMA),
        Member("empty.txt", b"", DEFLATED),
        Member("dir/", b""),
        Member("dir/ünï cödé.txt", b"unicode", DEFLATED),
        Member("dir/link", b"../stored.txt", symlink=True),
    ]
    yield make_zip(members)
    yield make_zip(members, seekable=False)  # data descriptors
    yield make_zip(members[:2], comment=b"a comment PK\x05\x06 inside")
    yield stream_zip_bytes([("zip64.txt", TEXT), ("b.txt", SMALL)], method=STREAM_ZIP_64)
    yield reverse_central(make_zip(members))
    yield b"#!/bin/sh\nexit 0\n" + make_zip(members[:2])  # data before the archive


def deflate64_far() -> bytes:
    """A Deflate64 member with a copy from 40,000 bytes back (beyond Deflate's window)."""
    far, plain = deflate64_far_copy(bytes(range(256)) * 160, 1000, 40_000)
    return raw_zip([Raw(b"far.bin", far, plain, method=DEFLATE64)])


def _lying() -> Iterator[bytes]:
    deflated = deflate_raw(TEXT)
    yield deflate64_far()
    yield raw_zip([Raw(b"crc.txt", SMALL, SMALL, crc=zlib.crc32(SMALL) ^ 1)])
    yield raw_zip([Raw(b"usize.txt", deflated, TEXT, method=DEFLATED, usize=len(TEXT) - 1)])
    yield raw_zip([Raw(b"usize.txt", deflated, TEXT, method=DEFLATED, usize=len(TEXT) * 9)])
    yield raw_zip([Raw(b"stored.txt", SMALL, SMALL, usize=len(SMALL) + 5)])
    yield raw_zip([Raw(b"name.txt", SMALL, SMALL, local_name_len=200)])
    yield raw_zip([Raw(b"extra.txt", SMALL, SMALL, local_extra_len=5000)])
    yield raw_zip([Raw(b"a", SMALL, SMALL), Raw(b"b", SMALL, SMALL, share_previous=True)])
    yield raw_zip([Raw(b"dup", SMALL, SMALL), Raw(b"dup", b"other", b"other")])
    yield raw_zip([Raw(b"enc", SMALL, SMALL, flags=1)])
    yield raw_zip([Raw(b"method", SMALL, SMALL, method=99)])
    yield raw_zip([Raw(b"../../etc/passwd", SMALL, SMALL), Raw(b"/abs", SMALL, SMALL)])
    yield raw_zip([Raw(b"a/" * 200 + b"x", SMALL, SMALL)])
    yield raw_zip([Raw(b"nul\x00name", SMALL, SMALL)])
    yield raw_zip(
        [Raw(b"dir", b"", b"", external=(stat.S_IFDIR | 0o755) << 16, made_by=3 << 8 | 20)]
    )
    yield raw_zip([Raw(b"upath.txt", SMALL, SMALL, extra_central=b"\x75\x70\x05\x00\x01abcd")])
    real = make_zip([Member("a.txt", TEXT, DEFLATED), Member("b.txt", SMALL, STORED)])
    yield set_sizes(real, "a.txt", csize=10)
    yield set_sizes(real, "b.txt", usize=3)
    yield set_flags(real, "a.txt", 1)
    yield set_method(real, "b.txt", DEFLATED)


def _broken() -> Iterator[bytes]:
    makers: list[Callable[[], bytes]] = [*broken.REFUSED.values(), *broken.UPLOADED.values()]
    for make in makers:
        yield make()


def seeds() -> Iterator[bytes]:
    yield from _honest()
    yield from _lying()
    yield from _broken()


def write(corpus: Path) -> int:
    """The seeds as files named by their SHA-1 (libFuzzer's convention); returns how many."""
    corpus.mkdir(parents=True, exist_ok=True)
    count = 0
    for data in seeds():
        (corpus / hashlib.sha1(data).hexdigest()).write_bytes(data)
        count += 1
    return count
