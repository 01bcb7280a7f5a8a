"""Range, If-Range and If-None-Match as RFC 9110 reads them (CONTRACT sections 7 and 8):
pure functions over request headers, one table each."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from starlette.datastructures import Headers

from artifactsvc.api.errors import RangeNotSatisfiable
from artifactsvc.api.ranges import ByteRange, not_modified, requested_range

SIZE = 100
ETAG = "abc123"  # as stored: unquoted
MODIFIED = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
MODIFIED_HTTP = "Tue, 02 Jan 2024 03:04:05 GMT"


def headers(**values: str) -> Headers:
    return Headers({name.replace("_", "-"): value for name, value in values.items()})


@pytest.mark.parametrize(
    ("range_header", "start", "length"),
    [
        pytest.param("bytes=0-9", 0, 10, id="first-ten"),
        pytest.param("bytes=0-0", 0, 1, id="first-byte"),
        pytest.param("bytes=99-99", 99, 1, id="last-byte"),
        pytest.param("bytes=0-99", 0, 100, id="whole-as-a-range"),
        pytest.param("bytes=10-19", 10, 10, id="closed"),
        pytest.param("bytes=10-", 10, 90, id="open"),
        pytest.param("bytes=99-", 99, 1, id="open-at-the-last-byte"),
        pytest.param("bytes=90-500", 90, 10, id="end-clamped"),
        pytest.param("bytes=0-18446744073709551616", 0, 100, id="huge-end-clamped"),
        pytest.param("bytes=-10", 90, 10, id="suffix"),
        pytest.param("bytes=-1", 99, 1, id="suffix-of-one"),
        pytest.param("bytes=-100", 0, 100, id="suffix-of-the-size"),
        pytest.param("bytes=-500", 0, 100, id="suffix-longer-than-the-size"),
    ],
)
def test_a_satisfiable_single_range_is_served(range_header: str, start: int, length: int) -> None:
    found = requested_range(headers(range=range_header), SIZE, ETAG, MODIFIED)

    assert found == ByteRange(start, length)
    assert found.content_range(SIZE) == f"bytes {start}-{start + length - 1}/{SIZE}"


@pytest.mark.parametrize(
    ("range_header", "size"),
    [
        pytest.param("bytes=100-", SIZE, id="start-at-the-size"),
        pytest.param("bytes=100-200", SIZE, id="closed-past-the-end"),
        pytest.param("bytes=5000-", SIZE, id="start-far-past-the-end"),
        pytest.param("bytes=-0", SIZE, id="empty-suffix"),
        pytest.param("bytes=0-", 0, id="any-start-of-an-empty-body"),
        pytest.param("bytes=0-0", 0, id="first-byte-of-an-empty-body"),
    ],
)
def test_a_range_starting_past_the_end_is_not_satisfiable(range_header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        requested_range(headers(range=range_header), size, ETAG, MODIFIED)

    assert refused.value.size == size


@pytest.mark.parametrize(
    "range_header",
    [
        pytest.param("bytes=abc", id="not-a-number"),
        pytest.param("bytes=", id="no-spec"),
        pytest.param("bytes=-", id="dash-only"),
        pytest.param("bytes=5-2", id="end-before-start"),
        pytest.param("bytes=0-5,10-20", id="two-ranges"),
        pytest.param("bytes=0-5, 10-20", id="two-ranges-spaced"),
        pytest.param("bytes=-5,-5", id="two-suffixes"),
        pytest.param("items=0-5", id="other-unit"),
        pytest.param("0-5", id="no-unit"),
        pytest.param("bytes=1.5-2", id="decimal"),
        pytest.param("bytes=--5", id="double-dash"),
    ],
)
def test_a_malformed_or_multi_part_range_is_ignored(range_header: str) -> None:
    assert requested_range(headers(range=range_header), SIZE, ETAG, MODIFIED) is None


def test_no_range_header_means_the_whole_body() -> None:
    assert requested_range(headers(), SIZE, ETAG, MODIFIED) is None
    assert requested_range(headers(if_range=f'"{ETAG}"'), SIZE, ETAG, MODIFIED) is None


@pytest.mark.parametrize(
    ("if_range", "modified", "honoured"),
    [
        pytest.param(f'"{ETAG}"', MODIFIED, True, id="same-etag"),
        pytest.param(f'"{ETAG}"', None, True, id="same-etag-no-date-known"),
        pytest.param('"other"', MODIFIED, False, id="other-etag"),
        pytest.param(f'W/"{ETAG}"', MODIFIED, False, id="weak-etag-never-matches"),
        pytest.param(ETAG, MODIFIED, False, id="unquoted-etag"),
        pytest.param(MODIFIED_HTTP, MODIFIED, True, id="same-date"),
        pytest.param("Mon, 01 Jan 2024 03:04:05 GMT", MODIFIED, False, id="older-date"),
        pytest.param("Wed, 03 Jan 2024 03:04:05 GMT", MODIFIED, False, id="newer-date"),
        pytest.param(MODIFIED_HTTP, None, False, id="date-but-none-known"),
        pytest.param("yesterday", MODIFIED, False, id="not-a-validator"),
    ],
)
def test_if_range_keeps_the_range_only_while_the_validator_matches(
    if_range: str, modified: datetime | None, honoured: bool
) -> None:
    found = requested_range(headers(range="bytes=10-19", if_range=if_range), SIZE, ETAG, modified)

    assert found == (ByteRange(10, 10) if honoured else None)


def test_a_stale_if_range_serves_the_whole_body_even_for_an_unsatisfiable_range() -> None:
    stale = headers(range="bytes=500-", if_range='"other"')

    assert requested_range(stale, SIZE, ETAG, MODIFIED) is None


@pytest.mark.parametrize(
    ("if_none_match", "matches"),
    [
        pytest.param(f'"{ETAG}"', True, id="same-etag"),
        pytest.param(f'W/"{ETAG}"', True, id="weak-comparison"),
        pytest.param("*", True, id="star"),
        pytest.param(f'"x", "{ETAG}"', True, id="in-a-list"),
        pytest.param(f'"x",W/"{ETAG}"', True, id="weak-in-a-list"),
        pytest.param(f' "x" , "{ETAG}" ', True, id="list-with-spaces"),
        pytest.param('"x", *', True, id="star-in-a-list"),
        pytest.param('"other"', False, id="other-etag"),
        pytest.param('"x", "y"', False, id="none-in-the-list"),
        pytest.param(ETAG, False, id="unquoted"),
        pytest.param(f'"{ETAG.upper()}"', False, id="case-sensitive"),
        pytest.param(f'"{ETAG}x"', False, id="prefix-only"),
        pytest.param("", False, id="empty"),
    ],
)
def test_if_none_match_matches_by_weak_comparison(if_none_match: str, matches: bool) -> None:
    assert not_modified(headers(if_none_match=if_none_match), ETAG) is matches


def test_without_if_none_match_nothing_is_not_modified() -> None:
    assert not_modified(headers(), ETAG) is False
