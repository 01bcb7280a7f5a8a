"""`expire_in` as GitLab reads it: gitlab-chronic-duration's `ChronicDuration.parse`.

GitLab (`Gitlab::Ci::Build::DurationParser`) treats `never` (any case) as no expiry and
hands everything else to ChronicDuration with `raise_exceptions` on
(config/initializers/chronic_duration.rb), so an unknown word is an error, not ignored.
The steps below are ChronicDuration's `cleanup` and `calculate_from_words`, in order:

1. lower-case, and number words to digits (numerals.py: `one week`, `twenty-one days`);
2. a clock reading, `h:m:s` and up to `y:mo:d:h:m:s` (`1:30:00`, `1:20`), becomes units,
   matched on the whole text as the gem's complete time matcher does;
3. spaces around every number (`2h20min` -> `2 h 20 min`);
4. each word is a number, a unit spelling (`mappings`), or one of the join words `and`,
   `with`, `plus` (a comma may cling to either end); anything else is an error. A text that
   starts with a unit counts it once (`week`, `minute 30s`);
5. each number is multiplied by the unit after it (seconds when none; nothing when the next
   word is another number). A year is 365.25 days, a month 30 days, a week 7 days.

A total of zero is no duration (ChronicDuration returns nil, and GitLab's validation refuses
it). Sums are exact (fractions), so no input can overflow; anything past MAX_SECONDS is
refused, since no stored time can be that far away.
"""

from __future__ import annotations

import re
from fractions import Fraction

from artifactsvc.numerals import numerize

MINUTE, HOUR, DAY = 60, 3600, 86400
YEAR = 31_557_600  # ChronicDuration's SECONDS_PER_YEAR: 365.25 days
UNIT_SECONDS: dict[str, int] = {
    "seconds": 1,
    "minutes": MINUTE,
    "hours": HOUR,
    "days": DAY,
    "weeks": 7 * DAY,
    "months": 30 * DAY,
    "years": YEAR,
}
MAPPINGS: dict[str, str] = {
    spelling: unit
    for unit, spellings in (
        ("seconds", ("seconds", "second", "secs", "sec", "s")),
        ("minutes", ("minutes", "minute", "mins", "min", "m")),
        ("hours", ("hours", "hour", "hrs", "hr", "h")),
        ("days", ("days", "day", "dy", "d")),
        ("weeks", ("weeks", "week", "wks", "wk", "w")),
        ("months", ("months", "month", "mos", "mo")),
        ("years", ("years", "year", "yrs", "yr", "y")),
    )
    for spelling in spellings
}
JOIN_WORDS = frozenset({"and", "with", "plus"})
# A clock reading, right to left: seconds, minutes, hours, days, months, years (no weeks).
CLOCK_UNITS = ("seconds", "minutes", "hours", "days", "months", "years")
_CLOCK = re.compile(r"[0-9]+:[0-9]+(:[0-9]+){0,4}(\.[0-9]*)?")
_NUMBER = re.compile(r"[0-9]*\.?[0-9]+")
MAX_SECONDS = 1000 * YEAR


def _clock_to_units(text: str) -> str:
    compact = text.replace(" ", "")
    if not _CLOCK.fullmatch(compact):
        return text
    # At most six parts (the matcher's bound), so every part has a unit.
    parts = reversed(compact.split(":"))
    named = [f"{value} {unit}" for value, unit in zip(parts, CLOCK_UNITS, strict=False)]
    return " ".join(reversed(named))


def _known_words(text: str, original: str) -> list[str]:
    words: list[str] = []
    for word in text.split():
        if _NUMBER.search(word):
            words.append(word)
            continue
        bare = word.removeprefix(",").removesuffix(",")
        if bare in MAPPINGS:
            words.append(MAPPINGS[bare])
        elif bare not in JOIN_WORDS:
            raise ValueError(f"an invalid word {word!r} was used in {original!r}")
    if words and words[0] in MAPPINGS:
        words.insert(0, "1")
    return words


def _total(words: list[str]) -> Fraction:
    total = Fraction(0)
    for position, word in enumerate(words):
        if not _NUMBER.search(word):
            continue
        unit = words[position + 1] if position + 1 < len(words) else "seconds"
        total += Fraction(word) * UNIT_SECONDS.get(unit, 0)
    return total


def parse_duration(text: str) -> int | None:
    """Seconds for an `expire_in` value, or None for `never`. ValueError when GitLab would
    refuse it."""
    if text.strip().lower() == "never":
        return None
    cleaned = _clock_to_units(numerize(text.lower()))
    cleaned = re.sub(r" +", " ", _NUMBER.sub(lambda m: f" {m.group(0)} ", cleaned)).strip()
    total = _total(_known_words(cleaned, text))
    if total <= 0:
        raise ValueError(f"not a duration: {text!r}")
    if total > MAX_SECONDS:
        raise ValueError(f"duration out of range: {text!r}")
    return int(total)  # a fraction of a second is dropped, as the stored time has none
