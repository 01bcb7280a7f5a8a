"""`expire_in` as GitLab reads it (CONTRACT section 6: GitLab's ChronicDuration grammar,
"1 week", "week", "3 mins 4 sec", "1:30:00", "never", seconds). Expected values are
ChronicDuration's (gitlab-chronic-duration's own examples where it has them); rows where
this service still differs are marked xfail, strictly, so fixing one shows up."""

from __future__ import annotations

import pytest

from artifactsvc.durations import MAX_SECONDS, parse_duration

MINUTE, HOUR, DAY = 60, 3600, 86400
WEEK, MONTH = 7 * DAY, 30 * DAY
YEAR = 31_557_600  # ChronicDuration: 365.25 days


def differs(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(reason=reason, strict=True)


ONE_EACH = [
    pytest.param(f"1 {unit}", seconds, id=f"unit-{unit}")
    for seconds, units in (
        (1, ("s", "sec", "second")),
        (MINUTE, ("m", "min", "minute")),
        (HOUR, ("h", "hr", "hour")),
        (DAY, ("d", "day")),
        (WEEK, ("w", "wk", "week")),
        (MONTH, ("mo", "month")),
    )
    for unit in units
]
TWO_EACH = [
    pytest.param(f"2 {unit}", 2 * seconds, id=f"unit-{unit}")
    for seconds, units in (
        (1, ("secs", "seconds")),
        (MINUTE, ("mins", "minutes")),
        (HOUR, ("hrs", "hours")),
        (DAY, ("days",)),
        (WEEK, ("wks", "weeks")),
        (MONTH, ("mos", "months")),
    )
    for unit in units
]
YEARS = [
    pytest.param(
        text,
        seconds,
        id=f"year-{text}",
        marks=differs("durations.py counts a year as 365 days, ChronicDuration as 365.25"),
    )
    for text, seconds in (
        ("1 y", YEAR),
        ("1 yr", YEAR),
        ("1 year", YEAR),
        ("2 yrs", 2 * YEAR),
        ("2 years", 2 * YEAR),
        ("1 year 6 mos 1 day", YEAR + 6 * MONTH + DAY),
    )
]
COMBINED = [
    pytest.param("3 mins 4 sec", 3 * MINUTE + 4, id="contract-example"),
    pytest.param("3 Mins 4 Sec", 3 * MINUTE + 4, id="capitalised"),
    pytest.param("1 WEEK", WEEK, id="upper-case"),
    pytest.param("2 hrs 20 min", 2 * HOUR + 20 * MINUTE, id="hours-minutes"),
    pytest.param("2h20min", 2 * HOUR + 20 * MINUTE, id="no-spaces"),
    pytest.param("6 mos 1 day", 6 * MONTH + DAY, id="months-day"),
    pytest.param("4 days and 11 hours", 4 * DAY + 11 * HOUR, id="and"),
    pytest.param("3 weeks and, 2 days", 3 * WEEK + 2 * DAY, id="and-comma"),
    pytest.param("3 weeks, 2 days", 3 * WEEK + 2 * DAY, id="comma"),
    pytest.param("  4 days and 11     hours ", 4 * DAY + 11 * HOUR, id="extra-spaces"),
    pytest.param("1 day 1 day", 2 * DAY, id="repeated-unit-adds"),
    pytest.param("4m11s", 4 * MINUTE + 11, id="compact"),
    pytest.param(
        "3 weeks, plus 2 days",
        3 * WEEK + 2 * DAY,
        id="plus",
        marks=differs("ChronicDuration also skips 'plus' and 'with'; durations.py only 'and'"),
    ),
    pytest.param(
        "3 weeks with 2 days",
        3 * WEEK + 2 * DAY,
        id="with",
        marks=differs("ChronicDuration also skips 'plus' and 'with'; durations.py only 'and'"),
    ),
]
NUMBERS = [
    pytest.param("3600", 3600, id="bare-seconds"),
    pytest.param(" 42 ", 42, id="bare-seconds-padded"),
    pytest.param("2.5 hrs", 2.5 * HOUR, id="decimal"),
    pytest.param("1.5 days", 1.5 * DAY, id="decimal-days"),
    pytest.param("12 mins 3.5 seconds", 12 * MINUTE + 3, id="fraction-of-a-second-dropped"),
    pytest.param(f"{MAX_SECONDS}", MAX_SECONDS, id="the-largest-accepted"),
]
CLOCK = [
    pytest.param(
        text,
        seconds,
        id=f"clock-{text}",
        marks=differs("CONTRACT lists '1:30:00'; durations.py has no h:m:s form"),
    )
    for text, seconds in (("1:30:00", HOUR + 30 * MINUTE), ("1:20", MINUTE + 20))
]
UNIT_ALONE = [
    pytest.param(
        text,
        seconds,
        id=f"alone-{text}",
        marks=differs("CONTRACT lists 'week'; durations.py needs a number before the unit"),
    )
    for text, seconds in (("week", WEEK), ("day", DAY), ("minute 30s", MINUTE + 30))
]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [*ONE_EACH, *TWO_EACH, *YEARS, *COMBINED, *NUMBERS, *CLOCK, *UNIT_ALONE],
)
def test_expire_in_is_read_as_chronic_duration_reads_it(text: str, seconds: float) -> None:
    assert parse_duration(text) == int(seconds)


@pytest.mark.parametrize("text", ["never", "Never", "NEVER", "  never "])
def test_never_means_no_expiry(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("a fortnight or so", id="words"),
        pytest.param("1 fortnight", id="unknown-unit"),
        pytest.param("soon", id="unknown-word"),
        pytest.param("forever", id="not-never"),
        pytest.param("never ever", id="never-and-more"),
        pytest.param("1 week or so", id="trailing-words"),
        pytest.param("about 1 week", id="leading-words"),
        pytest.param("1 day ago", id="ago"),
        pytest.param("-1 day", id="negative"),
        pytest.param("1 week!", id="punctuation"),
        pytest.param("0", id="zero"),
        pytest.param("0 days", id="zero-days"),
        pytest.param("0 hours 0 mins", id="zero-sum"),
        pytest.param(f"{MAX_SECONDS + 1}", id="past-the-largest"),
        pytest.param("1000000 years", id="a-million-years"),
        pytest.param(
            "9" * 400 + " days",
            id="absurdly-many-days",
            marks=pytest.mark.xfail(
                raises=OverflowError,
                strict=True,
                reason="bug: the float sum overflows to inf and int(inf) is no ValueError",
            ),
        ),
    ],
)
def test_an_expire_in_that_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
