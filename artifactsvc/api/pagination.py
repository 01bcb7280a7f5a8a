"""GitLab's pagination (CONTRACT section 10): offset pages and keyset cursors.

`Link` URLs are absolute (EXTERNAL_URL), keep the request's raw path (so `foo%2Fbar`
stays encoded) and every query parameter, only `page` or `cursor` replaced.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

from artifactsvc.api.errors import BadRequest
from artifactsvc.api.params import positive_int
from artifactsvc.api.routing import raw_path

MAX_PER_PAGE = 100
# GitLab's Kaminari MAX_COUNT_LIMIT: an in-memory list this long or longer is paged without
# X-Total, X-Total-Pages or rel="last" (OffsetPagination#paginatable_array_exceeds_count?).
ARRAY_COUNT_LIMIT = 10_000
# Past this offset no table here has rows; skip the query instead of overflowing it.
MAX_OFFSET = 2**62


@dataclass(frozen=True)
class OffsetPage:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def beyond_any_data(self) -> bool:
        return self.offset >= MAX_OFFSET


def offset_page(request: Request) -> OffsetPage:
    page = positive_int(request.query_params, "page", 1)
    per_page = min(positive_int(request.query_params, "per_page", 20), MAX_PER_PAGE)
    return OffsetPage(page, per_page)


def _url(request: Request, external_url: str, replace: dict[str, str]) -> str:
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    for key, value in request.query_params.multi_items():
        if key in replace:
            if key not in seen:
                items.append((key, replace[key]))
                seen.add(key)
        else:
            items.append((key, value))
    items.extend((key, value) for key, value in replace.items() if key not in seen)
    return f"{external_url}{raw_path(request.scope)}?{urlencode(items)}"


def offset_headers(
    request: Request,
    external_url: str,
    page: OffsetPage,
    total: int | None,
    *,
    count_limit: int | None = None,
    has_more: bool = False,
    empty: bool = False,
) -> dict[str, str]:
    """GitLab's offset headers; with `count_limit`, the totals are left out from that many
    items on, as GitLab does when it pages a list it built in memory. `total` None: an
    uncounted list (GitLab's `without_count`): no X-Total, X-Total-Pages or rel="last", and
    `has_more` (a row past the page was read) decides the next page, and an `empty` page
    (past the end) has no previous one, as Kaminari's `without_count` pages."""
    counted = total is not None and (count_limit is None or total < count_limit)
    if total is not None:
        total_pages = max(1, math.ceil(total / page.per_page))
        next_page = page.page + 1 if page.page < total_pages else None
        prev_page = page.page - 1 if 1 < page.page <= total_pages + 1 else None
    else:
        total_pages = 0
        next_page = page.page + 1 if has_more else None
        prev_page = page.page - 1 if page.page > 1 and not empty else None
    per_page = str(page.per_page)

    def link(number: int, rel: str) -> str:
        url = _url(request, external_url, {"page": str(number), "per_page": per_page})
        return f'<{url}>; rel="{rel}"'

    links = []
    if prev_page is not None:
        links.append(link(prev_page, "prev"))
    if next_page is not None:
        links.append(link(next_page, "next"))
    links.append(link(1, "first"))
    if counted:
        links.append(link(total_pages, "last"))
    headers = {
        "X-Page": str(page.page),
        "X-Per-Page": per_page,
        "X-Next-Page": str(next_page) if next_page else "",
        "X-Prev-Page": str(prev_page) if prev_page else "",
        "Link": ", ".join(links),
    }
    if counted:
        headers["X-Total"] = str(total)
        headers["X-Total-Pages"] = str(total_pages)
    return headers


@dataclass(frozen=True)
class KeysetPage:
    per_page: int
    before_id: int | None


def keyset_page(request: Request) -> KeysetPage:
    query = request.query_params
    if query.get("order_by", "id") != "id":
        raise BadRequest("does not have a valid value", field="order_by")
    if query.get("sort", "desc") != "desc":
        raise BadRequest("does not have a valid value", field="sort")
    per_page = min(positive_int(query, "per_page", 20), MAX_PER_PAGE)
    cursor = query.get("cursor")
    return KeysetPage(per_page, decode_cursor(cursor) if cursor else None)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"id": str(last_id)}).encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))["id"]
        before = int(value)
    except (ValueError, KeyError, TypeError, UnicodeEncodeError, binascii.Error):
        raise BadRequest("is invalid", field="cursor") from None
    if not 0 < before < 2**63:
        raise BadRequest("is invalid", field="cursor")
    return before


def keyset_headers(
    request: Request, external_url: str, page: KeysetPage, ids: Sequence[int], has_more: bool
) -> dict[str, str]:
    headers = {"X-Per-Page": str(page.per_page)}
    if has_more and ids:
        url = _url(request, external_url, {"cursor": encode_cursor(ids[-1])})
        headers["Link"] = f'<{url}>; rel="next"'
    return headers
