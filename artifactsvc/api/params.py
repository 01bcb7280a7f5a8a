"""Query parameter parsing at the edge: pure functions that reject, never repair."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import QueryParams

from artifactsvc.api.errors import BadRequest
from artifactsvc.errors import JobNotFound, PipelineNotFound
from artifactsvc.models import JOB_SCOPES

MAX_ID = 2**63 - 1
TRUE = frozenset({"true", "True", "TRUE", "1", "t", "yes"})
FALSE = frozenset({"false", "False", "FALSE", "0", "f", "no"})


def boolean(query: QueryParams, name: str, default: bool = False) -> bool:
    value = query.get(name)
    if value is None or value == "":
        return default
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise BadRequest("is invalid", field=name)


def body_boolean(body: dict[str, Any], name: str) -> bool:
    """A Boolean parameter sent in a JSON or form body: true, "true", "1"..."""
    value = body.get(name)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if str(value) in TRUE:
        return True
    if str(value) in FALSE:
        return False
    raise BadRequest("is invalid", field=name)


def scopes(query: QueryParams) -> tuple[str, ...]:
    """`scope=x`, repeated `scope=`, `scope[]=x&scope[]=y` (python-gitlab) or the hash form
    `scope[0]=x&scope[1]=y`: all accepted, as Grape's coercion of GitLab's `optional_scope`
    takes a string, an array or a hash's values."""
    values = [
        value
        for key, value in query.multi_items()
        if key == "scope" or (key.startswith("scope[") and key.endswith("]"))
    ]
    for value in values:
        if value not in JOB_SCOPES:
            raise BadRequest("does not have a valid value", field="scope")
    return tuple(dict.fromkeys(values))


# Ruby's String#to_i: leading whitespace, a sign, digits with single underscores between
# them; whatever follows is ignored, and no digits at all is 0.
_RUBY_INTEGER = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]+(?:_[0-9]+)*)")


def ruby_to_i(text: str) -> int:
    """`text.to_i` as GitLab's Ruby reads it: "12abc" is 12, "abc" and "" are 0."""
    found = _RUBY_INTEGER.match(text)
    if found is None:
        return 0
    value = int(found.group(2).replace("_", ""))
    return -value if found.group(1) == "-" else value


def path_id(raw: str, *, kind: str) -> int:
    """A numeric path id (`:job_id`, `:pipeline_id`); 400 if not a number, 404 if no such row."""
    if not (raw.isascii() and raw.isdigit()):
        raise BadRequest("is invalid", field=kind)
    value = int(raw)
    if value > MAX_ID:
        raise PipelineNotFound() if kind == "pipeline_id" else JobNotFound()
    return value


def positive_int(query: QueryParams, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):  # one sign at most: "--5" is junk
        raise BadRequest("is invalid", field=name)
    value = int(raw)
    if value < 1:
        raise BadRequest("does not have a valid value", field=name)
    return value


def strict_text(query_string: bytes, name: str) -> str | None:
    """A query value that must be valid UTF-8 (Starlette would silently replace bad bytes)."""
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("is invalid", field=name) from None
    values = [value for key, value in pairs if key == name]
    return values[-1] if values else None


def choice(query: QueryParams, name: str, values: tuple[str, ...]) -> str | None:
    """An optional parameter with a fixed set of values (Grape's `values:`)."""
    value = query.get(name)
    if value is None or value == "":
        return None
    if value not in values:
        raise BadRequest("does not have a valid value", field=name)
    return value


def optional_boolean(query: QueryParams, name: str) -> bool | None:
    if query.get(name) in (None, ""):
        return None
    return boolean(query, name)


def timestamp(query: QueryParams, name: str) -> datetime | None:
    """An ISO 8601 time (Grape's DateTime); a time without a zone is UTC."""
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("is invalid", field=name) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
