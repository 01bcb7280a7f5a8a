"""GET /openapi.json: the OpenAPI 3.1 document of this API, derived from the route table so it
cannot drift from what is served.

Each `RawRoute` carries the `Operation`(s) declared next to it (`api/spec.py`); path
parameters come from the route's pattern, a segment held to literal values (`only`) is
documented by its first spelling, and every GET is documented as HEAD too (RawRoute answers
both). A route without a spec is still listed, with its path parameters and nothing else,
so a new route shows up here at once (and tests/test_openapi.py asks for its spec).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from artifactsvc import __version__
from artifactsvc.api import spec
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.api.schemas import SCHEMAS

_PARAM = re.compile(r"\{(\w+)(\*?)\}")


def _path(pattern: str, literal: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: literal.get(m.group(1), "{" + m.group(1) + "}"), pattern)


def _path_params(path: str, overrides: dict[str, spec.Schema]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": overrides.get(name, spec.PATH_SCHEMAS.get(name, spec.TEXT)),
        }
        for name, _ in _PARAM.findall(path)
    ]


def _summary(item: RawRoute) -> str:
    return (item.endpoint.__doc__ or item.endpoint.__name__).strip().splitlines()[0]


def _operation(item: RawRoute, method: str, op: spec.Operation | None, path: str) -> dict[str, Any]:
    head = method == "HEAD"
    stem = (op.name if op and op.name else None) or item.endpoint.__name__
    body: dict[str, Any] = {
        "operationId": f"{stem}_{method.lower()}",
        "summary": op.summary if op else _summary(item),
    }
    if op is None:
        body["parameters"] = _path_params(path, {})
        body["responses"] = {"200": {"description": "success"}}
        return body
    if op.description:
        body["description"] = op.description
    body["parameters"] = [
        *_path_params(path, dict(op.path_params)),
        *(param.document() for param in op.params),
    ]
    if op.body is not None and not head:
        body["requestBody"] = op.body.document()
    body["security"] = op.security.document()
    body["responses"] = {
        str(status): reply.document(head=head) for status, reply in sorted(op.statuses().items())
    }
    return body


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for item in routes:
        if not isinstance(item, RawRoute):
            continue
        # A segment held to literal values (`only`) is documented by its first spelling.
        literal = {name: next(iter(values)) for name, values in item.only.items()}
        operations: Sequence[spec.Operation | None] = item.spec or [None]
        for op in operations:
            path = (op.path if op and op.path else None) or _path(item.pattern, literal)
            for method in sorted(item.methods):
                documented = _operation(item, method, op, path)
                paths.setdefault(path, {})[method.lower()] = documented
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "artifactsvc (GitLab API v4 Jobs API)",
            "version": __version__,
            "description": "CI job artifacts served through GitLab's Jobs API; see CONTRACT.md",
        },
        "components": {
            "schemas": SCHEMAS,
            "headers": spec.HEADERS,
            "securitySchemes": spec.SECURITY_SCHEMES,
        },
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of this API."""
    return JSONResponse(document(request.app.routes))


OPENAPI = spec.Operation(
    "The OpenAPI 3.1 document of this API",
    spec.NOBODY,
    {200: spec.json_reply({"type": "object"}, "this document")},
)

ROUTES: list[RawRoute] = [route("/openapi.json", openapi, spec=OPENAPI)]
