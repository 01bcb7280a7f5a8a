"""Number words to digits, the part of the `numerizer` gem that ChronicDuration runs first.

gitlab-chronic-duration's `cleanup` passes the text through `Numerizer.numerize`, which is
why GitLab reads `expire_in: one week` or `twenty-one days`. Mirrored: the direct words
(`zero`..`nineteen`, `a` as one), the tens and their compounds (`twenty one`,
`twentyone`, `twenty-one`), and the big multipliers (`hundred`, `thousand`, ...), summed
the way numerizer's `andition` sums them. Not mirrored: fractions (`half`) and ordinals
(numerizer would read the unit `second` as "2nd"), which leave words ChronicDuration
refuses anyway. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DIRECT = (
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("ninteen", 19),  # numerizer's own allowance for a common misspelling
    ("zero", 0),
    ("ten", 10),
    ("a", 1),
)
_SINGLE = (
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
)
_TENS = (
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fourty", 40),
    ("fifty", 50),
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
)
_BIG = (
    ("hundred", 100),
    ("thousand", 1000),
    ("million", 1_000_000),
    ("billion", 1_000_000_000),
    ("trillion", 1_000_000_000_000),
)
MARK = "<num>"  # numerizer tags numbers it made, so only those are summed
_ANDITION = re.compile(r"<num>(\d+)( | and )<num>(\d+)(?=\W|$)", re.IGNORECASE)


def _word(word: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\W){word}(?=$|\W)", re.IGNORECASE)


def _replace(text: str, word: str, value: int) -> str:
    return _word(word).sub(lambda m: f"{m.group(1)}{MARK}{value}", text)


def _andition(text: str) -> str:
    """`<num>20 <num>1` -> `<num>21`; with `and`, or a smaller second number, they add."""
    position = 0
    while True:
        found = _ANDITION.search(text, position)
        if found is None:
            return text
        first, joiner, second = found.group(1), found.group(2), found.group(3)
        if "and" in joiner.lower() or len(first) > len(second):
            merged = f"{MARK}{int(first) + int(second)}"
            text = text[: found.start()] + merged + text[found.end() :]
            position = 0
        else:
            position = found.end()


def _multiplied(value: int) -> Callable[[re.Match[str]], str]:
    """`2 hundred` -> `<num>200`; a bare `hundred` is 100, untagged, as numerizer has it."""

    def replace(found: re.Match[str]) -> str:
        digits = found.group(1)
        return f"{MARK}{value * int(digits)}" if digits else str(value)

    return replace


def numerize(text: str) -> str:
    """`text` with its number words replaced by digits, as numerizer does it."""
    text = re.sub(r" +|([^\d])-([^\d])", lambda m: f"{m.group(1) or ''} {m.group(2) or ''}", text)
    text = re.sub(r"\ba$", "", text).rstrip()  # a trailing `a` is no number
    for word, value in (*_DIRECT, *_SINGLE):
        pattern = r"\ba\b" if word == "a" else word
        text = _replace(text, pattern, value)
    for tens_word, tens in _TENS:
        for unit_word, unit in _SINGLE:
            text = _replace(text, f"{tens_word}{unit_word}", tens + unit)
        text = _replace(text, tens_word, tens)
    for word, value in _BIG:
        big = re.compile(rf"(?:{MARK})?(\d*) *{word}", re.IGNORECASE)
        text = big.sub(_multiplied(value), text)
        text = _andition(text)
    return _andition(text).replace(MARK, "")
