"""Header values built from domain values: dispositions, entity tags and HTTP dates.

Lower layers hand over names, ETags and times; only the edge knows how HTTP spells them.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from urllib.parse import quote


def content_disposition(filename: str) -> str:
    """`attachment; filename="…"; filename*=UTF-8''…`, safe to put in a header: quotes and
    backslashes escaped, anything outside printable ASCII replaced in the fallback."""
    fallback = "".join(
        "\\" + ch if ch in '"\\' else ch if " " <= ch <= "~" else "_" for ch in filename
    )
    encoded = quote(filename, safe="!#$&+-.^_`|~")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def quoted(etag: str) -> str:
    return etag if etag.startswith(('"', 'W/"')) else f'"{etag}"'


def http_date(value: datetime) -> str:
    return format_datetime(value, usegmt=True)
