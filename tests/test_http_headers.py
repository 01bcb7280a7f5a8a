"""Header values the edge builds from domain values (api/headers.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from artifactsvc.api.headers import content_disposition, http_date, quoted

DISPOSITIONS = [
    ("artifacts.zip", "attachment; filename=\"artifacts.zip\"; filename*=UTF-8''artifacts.zip"),
    (
        'a "b"\\c.txt',
        'attachment; filename="a \\"b\\"\\\\c.txt"; filename*=UTF-8\'\'a%20%22b%22%5Cc.txt',
    ),
    (
        "résumé\n.pdf",
        "attachment; filename=\"r_sum__.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%0A.pdf",
    ),
]


@pytest.mark.parametrize(("name", "header"), DISPOSITIONS)
def test_content_disposition_escapes_what_a_header_cannot_carry(name: str, header: str) -> None:
    assert content_disposition(name) == header


@pytest.mark.parametrize(
    ("etag", "header"), [("abc", '"abc"'), ('"abc"', '"abc"'), ('W/"abc"', 'W/"abc"')]
)
def test_etags_are_quoted_once(etag: str, header: str) -> None:
    assert quoted(etag) == header


def test_http_dates_are_imf_fixdate_in_gmt() -> None:
    when = datetime(2015, 12, 24, 15, 51, 21, 802000, tzinfo=UTC)
    assert http_date(when) == "Thu, 24 Dec 2015 15:51:21 GMT"
