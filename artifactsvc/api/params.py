"""Query parameter parsing at the edge: pure functions that reject, never repair."""

from __future__ import annotations

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


def scopes(query: QueryParams) -> tuple[str, ...]:
    """`scope=x`, `scope[]=x&scope[]=y` (python-gitlab) or repeated `scope=`: all accepted."""
    values = query.getlist("scope") + query.getlist("scope[]")
    for value in values:
        if value not in JOB_SCOPES:
            raise BadRequest("does not have a valid value", field="scope")
    return tuple(dict.fromkeys(values))


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
