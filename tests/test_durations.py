"""`expire_in` as GitLab reads it (CONTRACT section 6: GitLab's ChronicDuration grammar,
"1 week", "week", "3 mins 4 sec", "1:30:00", "never", seconds). Expected values are
ChronicDuration's (gitlab-chronic-duration's own examples where it has them)."""

from __future__ import annotations

import pytest

from artifactsvc.durations import MAX_SECONDS, parse_duration

MINUTE, HOUR, DAY = 60, 3600, 86400
WEEK, MONTH = 7 * DAY, 30 * DAY
YEAR = 31_557_600  # ChronicDuration: 365.25 days


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
    ),
    pytest.param(
        "3 weeks with 2 days",
        3 * WEEK + 2 * DAY,
        id="with",
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
    )
    for text, seconds in (
        ("1:30:00", HOUR + 30 * MINUTE),
        ("1:20", MINUTE + 20),
        ("4:01:01", 4 * HOUR + MINUTE + 1),
        ("1:20.51", MINUTE + 20),
        ("2:00:00:00", 2 * DAY),
    )
]
UNIT_ALONE = [
    pytest.param(
        text,
        seconds,
        id=f"alone-{text}",
    )
    for text, seconds in (("week", WEEK), ("day", DAY), ("minute 30s", MINUTE + 30))
]

NUMBER_WORDS = [
    pytest.param(text, seconds, id=f"words-{text}")
    for text, seconds in (
        ("one week", WEEK),
        ("One Week", WEEK),
        ("a week", WEEK),
        ("two hours and thirty minutes", 2 * HOUR + 30 * MINUTE),
        ("twenty-one days", 21 * DAY),
        ("twenty one days", 21 * DAY),
        ("ninety days", 90 * DAY),
        ("three hundred days", 300 * DAY),
        ("ten minutes", 10 * MINUTE),
    )
]
UNIT_SPELLINGS = [
    pytest.param(text, seconds, id=f"spelling-{text}")
    for text, seconds in (
        ("3 dy", 3 * DAY),
        ("47 yrs 6 mos and 4.5d", 47 * YEAR + 6 * MONTH + 4.5 * DAY),
        ("1 year 6 months", YEAR + 6 * MONTH),
        ("18 months", 18 * MONTH),
        ("1 hour 30", HOUR + 30),
        ("1 2 days", 2 * DAY),  # a number before another number counts for nothing
        ("1 year", YEAR),
        ("1000 years", 1000 * YEAR),
    )
]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        *ONE_EACH,
        *TWO_EACH,
        *YEARS,
        *COMBINED,
        *NUMBERS,
        *CLOCK,
        *UNIT_ALONE,
        *NUMBER_WORDS,
        *UNIT_SPELLINGS,
    ],
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
        pytest.param("9" * 400 + " days", id="absurdly-many-days"),
        pytest.param("9" * 400, id="absurdly-many-seconds"),
        pytest.param("1e400 days", id="exponent"),
        pytest.param("1 fortnight and a half", id="fraction-word"),
        pytest.param("3 weeks , 2 days", id="lone-comma"),
        pytest.param("1 day 2:00", id="clock-after-words"),
        pytest.param("1 week\x00", id="nul"),
    ],
)
def test_an_expire_in_that_is_not_a_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
