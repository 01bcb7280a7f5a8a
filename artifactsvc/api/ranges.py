"""HTTP Range, If-Range and If-None-Match, as pure functions (RFC 9110)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from starlette.datastructures import Headers

from artifactsvc.api.errors import RangeNotSatisfiable
from artifactsvc.api.headers import http_date, quoted

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass(frozen=True)
class ByteRange:
    start: int
    length: int

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.start + self.length - 1}/{size}"


def not_modified(headers: Headers, etag: str) -> bool:
    wanted = headers.get("if-none-match")
    if wanted is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in wanted.split(",")]
    return "*" in tags or quoted(etag) in tags


def requested_range(
    headers: Headers, size: int, etag: str, last_modified: datetime | None
) -> ByteRange | None:
    """The single range to serve, None for the whole body; RangeNotSatisfiable for 416.

    A malformed or multi-part Range is ignored (the whole body is served), as RFC 9110
    allows; so is a Range whose If-Range validator no longer matches.
    """
    raw = headers.get("range")
    if raw is None:
        return None
    if_range = headers.get("if-range")
    if if_range is not None:
        if if_range.startswith(('"', 'W/"')):
            if if_range != quoted(etag):
                return None
        elif last_modified is None or if_range != http_date(last_modified):
            return None
    match = _RANGE.match(raw.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if first == "" and last == "":
        return None
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        start = max(0, size - suffix)
        return ByteRange(start, size - start)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = size - 1 if last == "" else min(int(last), size - 1)
    if end < start:
        return None  # an invalid range-spec: ignore the header
    return ByteRange(start, end - start + 1)
