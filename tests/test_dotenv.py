"""dotenv reports read as GitLab's ParseDotenvArtifactService reads them (pure rules)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from artifactsvc.dotenv import parse_dotenv
from artifactsvc.errors import InvalidDotenv


def test_lines_are_split_at_the_first_equals_and_stripped() -> None:
    text = b"A=1\nB = two words \r\nC=x=y\nA=again\n"
    assert parse_dotenv(gzip.compress(text)) == {"A": "again", "B": "two words", "C": "x=y"}


def test_invalid_utf8_is_replaced_not_refused() -> None:
    assert parse_dotenv(gzip.compress(b"A=\xff\n")) == {"A": "\ufffd"}


def test_a_carriage_return_alone_does_not_end_a_line() -> None:
    assert parse_dotenv(gzip.compress(b"A=1\rB=2\n")) == {"A": "1\rB=2"}


def test_a_key_of_256_characters_is_too_long() -> None:
    with pytest.raises(InvalidDotenv, match="Key is too long"):
        parse_dotenv(gzip.compress(b"K" * 256 + b"=1\n"))


def test_a_truncated_gzip_is_refused() -> None:
    with pytest.raises(InvalidDotenv, match="not in gzip format"):
        parse_dotenv(gzip.compress(b"A=1\n")[:-6])


def test_a_gzip_bomb_stops_at_the_bound() -> None:
    bomb = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    data = bomb.compress(b"A" * (8 << 20)) + bomb.flush()
    with pytest.raises(InvalidDotenv, match="Too Big"):
        parse_dotenv(data)
