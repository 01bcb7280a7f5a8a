"""A `dotenv` report checked as GitLab checks it before storing it.

GitLab's Ci::ParseDotenvArtifactService (app/services/ci/parse_dotenv_artifact_service.rb)
refuses the upload (400, its message as the body) when the stored file is not smaller than
the plan's `dotenv_size` (5 KiB by default), when a line is not `KEY=VALUE`
(`/^(.*?)=(.*)$/`, so an empty line fails too), when a key is not `[a-zA-Z0-9_]+` of at most
255 characters (Ci::HasVariable's validation, reported as ActiveRecord does), or when there
are more than `dotenv_variables` (20 by default) distinct keys. The file is gzip, possibly
several members one after another (Adapters::GzipStream); its text is UTF-8 with invalid
bytes replaced and a byte-order mark dropped. Pure functions: bytes in, InvalidDotenv out.
"""

from __future__ import annotations

import re
import zlib

from artifactsvc.errors import InvalidDotenv

DOTENV_SIZE_LIMIT = 5 * 1024  # plan_limits.dotenv_size
DOTENV_VARIABLE_LIMIT = 20  # plan_limits.dotenv_variables
MAX_INFLATED = 1 << 20  # 5 KiB of gzip can claim far more; no report needs this much
_LINE = re.compile(r"(.*?)=(.*)")
_KEY = re.compile(r"[a-zA-Z0-9_]+")
_BOM = "\ufeff"


def _inflate(data: bytes) -> bytes:
    """Every gzip member in turn, as Zlib::GzipReader with `unused` reads them."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += inflater.decompress(rest, MAX_INFLATED + 1 - len(out))
        except zlib.error:
            raise InvalidDotenv("not in gzip format") from None
        if len(out) > MAX_INFLATED:
            raise InvalidDotenv(f"Dotenv Artifact Too Big. Maximum Allowable Size: {MAX_INFLATED}")
        if not inflater.eof:
            raise InvalidDotenv("not in gzip format")  # truncated member
        rest = inflater.unused_data
    return bytes(out)


def _key_errors(key: str) -> list[str]:
    errors = []
    if not key:
        errors.append("Key can't be blank")
    if len(key) > 255:
        errors.append("Key is too long (maximum is 255 characters)")
    if not _KEY.fullmatch(key):
        errors.append("Key can contain only letters, digits and '_'.")
    return errors


def parse_dotenv(data: bytes) -> dict[str, str]:
    """The variables of a gzip dotenv report (the last value of a repeated key wins), or
    InvalidDotenv with GitLab's message."""
    variables: dict[str, str] = {}
    text = _inflate(data).decode("utf-8", errors="replace").removeprefix(_BOM)
    lines = text.split("\n")  # Ruby's each_line: "\n" alone ends a line
    if lines[-1] == "":
        lines.pop()
    for line in lines:
        # As Ruby's `.`, Python's stops at "\n" only: a "\r" stays until the strip.
        found = _LINE.fullmatch(line)
        if found is None:
            raise InvalidDotenv("Invalid Format")
        key, value = found.group(1).strip(), found.group(2).strip()
        errors = _key_errors(key)
        if errors:
            raise InvalidDotenv(f"Validation failed: {', '.join(errors)}")
        variables[key] = value
    if len(variables) > DOTENV_VARIABLE_LIMIT:
        raise InvalidDotenv(f"Dotenv files cannot have more than {DOTENV_VARIABLE_LIMIT} variables")
    return variables


def check_dotenv(data: bytes) -> None:
    parse_dotenv(data)
