"""Times as the store keeps them and as the API shows them (models.parse_time/format_time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from artifactsvc.models import format_time, parse_time


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("2015-12-24T15:51:21.802Z", "2015-12-24T15:51:21.802Z"),
        ("2015-12-24T15:51:21.802+00:00", "2015-12-24T15:51:21.802Z"),
        ("2015-12-24T16:51:21.802+01:00", "2015-12-24T15:51:21.802Z"),
        ("2015-12-24T15:51:21", "2015-12-24T15:51:21.000Z"),  # naive: taken as UTC
        ("2015-12-24T15:51:21.802999Z", "2015-12-24T15:51:21.802Z"),  # truncated, as GitLab
    ],
)
def test_stored_times_are_shown_in_utc_with_milliseconds(stored: str, shown: str) -> None:
    parsed = parse_time(stored)
    assert parsed is not None and parsed.tzinfo is UTC
    assert format_time(parsed) == shown


def test_empty_times_are_none_and_offsets_are_converted() -> None:
    assert parse_time(None) is None and parse_time("") is None and format_time(None) is None
    east = datetime(2020, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(east) == "2019-12-31T23:00:00.000Z"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), "0999-01-02T03:04:05.000Z"),
        (datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2026-12-31T23:59:59.999Z"),
        (datetime(2026, 1, 1, 0, 0, 0, 1000, tzinfo=UTC), "2026-01-01T00:00:00.001Z"),
    ],
)
def test_every_field_is_zero_padded_and_the_milliseconds_are_never_rounded_up(
    value: datetime, shown: str
) -> None:
    assert format_time(value) == shown
