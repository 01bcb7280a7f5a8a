"""Where archive bytes come from: a two-verb ranged-read port and its plain implementations.

The object-storage adapter implements `RangeSource` elsewhere (pinned to one ETag); this
package only ever calls `read` for small, bounded ranges and `stream` for large ones, so the
number of calls is the number of ranged requests. `CountingSource` wraps any source and
records every call, which is how the tests assert what a lookup costs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

DEFAULT_CHUNK = 1 << 16


class RangeSource(Protocol):
    """Random access to one immutable object of `size` bytes.

    Both verbs are one ranged request each; ranges reaching past the end are clamped at EOF
    (a start past EOF gives no bytes).
    """

    @property
    def size(self) -> int: ...

    def read(self, start: int, length: int) -> bytes: ...

    def stream(self, start: int, length: int) -> Iterator[bytes]: ...


def _clamp(start: int, length: int, size: int) -> tuple[int, int]:
    if start < 0 or length < 0:
        raise ValueError(f"invalid range start={start} length={length}")
    start = min(start, size)
    return start, min(length, size - start)


class BytesSource:
    """An in-memory object, for tests and small archives."""

    def __init__(self, data: bytes, *, chunk_size: int = DEFAULT_CHUNK) -> None:
        self._data = data
        self._chunk = chunk_size

    @property
    def size(self) -> int:
        return len(self._data)

    def read(self, start: int, length: int) -> bytes:
        start, length = _clamp(start, length, len(self._data))
        return self._data[start : start + length]

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        start, length = _clamp(start, length, len(self._data))
        view = memoryview(self._data)
        for pos in range(start, start + length, self._chunk):
            yield bytes(view[pos : min(pos + self._chunk, start + length)])


class FileSource:
    """A local file; each call opens it, so one instance is safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str], *, chunk_size: int = DEFAULT_CHUNK) -> None:
        self._path = os.fspath(path)
        self._size = os.path.getsize(self._path)
        self._chunk = chunk_size

    @property
    def size(self) -> int:
        return self._size

    def read(self, start: int, length: int) -> bytes:
        start, length = _clamp(start, length, self._size)
        with open(self._path, "rb") as f:
            f.seek(start)
            return f.read(length)

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        start, length = _clamp(start, length, self._size)
        with open(self._path, "rb") as f:
            f.seek(start)
            while length > 0:
                chunk = f.read(min(self._chunk, length))
                if not chunk:
                    return
                length -= len(chunk)
                yield chunk


@dataclass
class CountingSource:
    """Wraps a source and records each call as (verb, start, length) plus the bytes delivered."""

    inner: RangeSource
    calls: list[tuple[str, int, int]] = field(default_factory=list)
    bytes_read: int = 0

    @property
    def size(self) -> int:
        return self.inner.size

    @property
    def requests(self) -> int:
        return len(self.calls)

    def reset(self) -> None:
        self.calls.clear()
        self.bytes_read = 0

    def read(self, start: int, length: int) -> bytes:
        self.calls.append(("read", start, length))
        data = self.inner.read(start, length)
        self.bytes_read += len(data)
        return data

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        self.calls.append(("stream", start, length))
        return self._counted(self.inner.stream(start, length))

    def _counted(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_read += len(chunk)
            yield chunk
