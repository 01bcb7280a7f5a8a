"""Turn one member's compressed bytes into its uncompressed bytes, a bounded chunk at a time.

Every decompressor is given the exact compressed bytes (as chunks) and yields pieces of at
most `OUTPUT_CHUNK` bytes, asking its codec for no more than that per call, so a member that
inflates a thousandfold never holds more than one piece in memory; the caller (`member`)
counts the output against the declared size and stops a bomb at the first excess piece.

Store and Deflate run inline on zlib; LZMA (14) inline on the standard library's raw LZMA1
decoder, because stream-unzip does not handle it; Deflate64 (9) and bzip2 (12) through
stream-unzip, fed a synthesized single-member zip (a local header carrying the central
directory's sizes and CRC, no data descriptor, then the data and a central-directory
signature to end it). Codec errors and data that ends early or runs on become DamagedArchive.
"""

from __future__ import annotations

import lzma
import struct
import zlib
from collections.abc import Iterable, Iterator

from artifactsvc.errors import DamagedArchive
from artifactsvc.ziprange.central import ZIP64_LIMIT, Entry

STORED, DEFLATED, DEFLATE64, BZIP2, LZMA = 0, 8, 9, 12, 14
SUPPORTED_METHODS = frozenset({STORED, DEFLATED, DEFLATE64, BZIP2, LZMA})
OUTPUT_CHUNK = 1 << 16
_LOCAL = struct.Struct("<4sHHHHHIIIHH")


def decompress(entry: Entry, raw: Iterable[bytes]) -> Iterator[bytes]:
    if entry.method == STORED:
        return iter(raw)
    if entry.method == DEFLATED:
        return _inflate(raw)
    if entry.method == LZMA:
        return _unlzma(raw)
    if entry.method in (DEFLATE64, BZIP2):
        return _via_stream_unzip(entry, raw)
    raise DamagedArchive(f"unsupported compression method {entry.method}")


def _inflate(raw: Iterable[bytes]) -> Iterator[bytes]:
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        for chunk in raw:
            if inflater.eof:
                if chunk:
                    raise DamagedArchive("data after the end of a deflate stream")
                continue
            data = chunk
            while data and not inflater.eof:
                out = inflater.decompress(data, OUTPUT_CHUNK)
                if out:
                    yield out
                data = inflater.unconsumed_tail
            if inflater.unused_data:
                raise DamagedArchive("data after the end of a deflate stream")
        while not inflater.eof:
            out = inflater.decompress(b"", OUTPUT_CHUNK)
            if not out:
                raise DamagedArchive("deflate stream ends early")
            yield out
    except zlib.error as e:
        raise DamagedArchive(f"bad deflate data: {e}") from None


def _unlzma(raw: Iterable[bytes]) -> Iterator[bytes]:
    decoder: lzma.LZMADecompressor | None = None
    head = b""
    try:
        for chunk in raw:
            if decoder is None:
                head += chunk
                if len(head) < 4 or len(head) < 4 + struct.unpack_from("<H", head, 2)[0]:
                    continue
                decoder, chunk = _lzma_decoder(head)
            if decoder.eof:
                if chunk:
                    raise DamagedArchive("data after the end of an LZMA stream")
                continue
            out = decoder.decompress(chunk, OUTPUT_CHUNK)
            while True:
                if out:
                    yield out
                if decoder.eof or decoder.needs_input:
                    break
                out = decoder.decompress(b"", OUTPUT_CHUNK)
            if decoder.unused_data:
                raise DamagedArchive("data after the end of an LZMA stream")
    except lzma.LZMAError as e:
        raise DamagedArchive(f"bad LZMA data: {e}") from None
    if decoder is None:
        raise DamagedArchive("LZMA member ends inside its properties")


def _lzma_decoder(head: bytes) -> tuple[lzma.LZMADecompressor, bytes]:
    (size,) = struct.unpack_from("<H", head, 2)
    props = head[4 : 4 + size]
    if size != 5 or props[0] >= 9 * 5 * 5:
        raise DamagedArchive("bad LZMA properties")
    lc, rest = props[0] % 9, props[0] // 9
    lp, pb = rest % 5, rest // 5
    (dict_size,) = struct.unpack_from("<I", props, 1)
    lzma1 = {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}
    decoder = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])
    return decoder, head[4 + size :]


def _via_stream_unzip(entry: Entry, raw: Iterable[bytes]) -> Iterator[bytes]:
    usize, csize = entry.uncompressed_size, entry.compressed_size
    big = usize >= ZIP64_LIMIT or csize >= ZIP64_LIMIT
    extra = struct.pack("<HHQQ", 1, 16, usize, csize) if big else b""
    header = _LOCAL.pack(
        b"PK\x03\x04",
        45,
        0,
        entry.method,
        0,
        0,
        entry.crc32,
        ZIP64_LIMIT if big else csize,
        ZIP64_LIMIT if big else usize,
        0,
        len(extra),
    )

    def zipped() -> Iterator[bytes]:
        yield header + extra
        yield from raw
        yield b"PK\x01\x02"

    # Imported here: it brings asyncio and pycryptodome (55 ms), which only these rare
    # codecs need, and every index worker process would pay for it at start.
    import stream_unzip

    try:
        for _, _, chunks in stream_unzip.stream_unzip(zipped(), chunk_size=OUTPUT_CHUNK):
            yield from chunks
    # stream_inflate, stream-unzip's pure-Python inflater, has no error of its own for most
    # bad data: a copy from before the stream's start is a ValueError (BackwardsTooFar), a
    # broken Huffman table an IndexError or KeyError (found by tests/fuzz/zips.py).
    except (stream_unzip.UnzipError, ValueError, IndexError, KeyError) as e:
        raise DamagedArchive(f"bad compressed data: {type(e).__name__}") from None
