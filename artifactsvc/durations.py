"""GitLab's `expire_in` grammar ("1 week", "3 mins 4 sec", "never", a bare number of seconds).

GitLab parses it with ChronicDuration; we accept the same units and their plural and
abbreviated forms, and reject anything else rather than guessing.
"""

from __future__ import annotations

import re

_UNITS: dict[str, int] = {}
for _names, _seconds in (
    (("s", "sec", "secs", "second", "seconds"), 1),
    (("m", "min", "mins", "minute", "minutes"), 60),
    (("h", "hr", "hrs", "hour", "hours"), 3600),
    (("d", "day", "days"), 86400),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400),
    (("mo", "mos", "month", "months"), 30 * 86400),
    (("y", "yr", "yrs", "year", "years"), 365 * 86400),
):
    for _name in _names:
        _UNITS[_name] = _seconds

_TERM = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)?")
MAX_SECONDS = 1000 * 365 * 86400


def parse_duration(text: str) -> int | None:
    """Seconds for an `expire_in` value, or None for `never`. ValueError when unparseable."""
    cleaned = text.strip().lower().replace(",", " ").replace(" and ", " ")
    if cleaned == "never":
        return None
    if not cleaned:
        raise ValueError("empty duration")
    total = 0.0
    position = 0
    for match in _TERM.finditer(cleaned):
        if cleaned[position : match.start()].strip():
            raise ValueError(f"unparseable duration: {text!r}")
        number, unit = match.group(1), match.group(2)
        if unit is None:
            total += float(number)
        elif unit in _UNITS:
            total += float(number) * _UNITS[unit]
        else:
            raise ValueError(f"unknown unit {unit!r} in {text!r}")
        position = match.end()
    if position == 0 or cleaned[position:].strip():
        raise ValueError(f"unparseable duration: {text!r}")
    seconds = int(total)
    if seconds <= 0 or seconds > MAX_SECONDS:
        raise ValueError(f"duration out of range: {text!r}")
    return seconds
