"""GET /openapi.json: the OpenAPI 3 document of this API, derived from the route table so it
cannot drift from what is served."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from artifactsvc import __version__
from artifactsvc.api.routing import RawRoute, route

_PARAM = re.compile(r"\{(\w+)(\*?)\}")
_ERROR = {
    "description": "GitLab-style error",
    "content": {"application/json": {"schema": {"type": "object"}}},
}


def _path(pattern: str, literal: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: literal.get(m.group(1), "{" + m.group(1) + "}"), pattern)


def document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for item in routes:
        if not isinstance(item, RawRoute):
            continue
        # A segment held to literal values (`only`) is documented by its first spelling.
        literal = {name: next(iter(values)) for name, values in item.only.items()}
        path = _path(item.pattern, literal)
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name, _ in _PARAM.findall(item.pattern)
            if name not in literal
        ]
        for method in sorted(item.methods - {"HEAD"}):
            summary = (item.endpoint.__doc__ or item.endpoint.__name__).strip().splitlines()[0]
            paths.setdefault(path, {})[method.lower()] = {
                "operationId": f"{item.endpoint.__name__}_{method.lower()}",
                "summary": summary,
                "parameters": params,
                "responses": {"200": {"description": "success"}, "default": _ERROR},
            }
    return {
        "openapi": "3.0.3",
        "info": {"title": "artifactsvc (GitLab API v4 Jobs API)", "version": __version__},
        "components": {
            "securitySchemes": {
                "privateToken": {"type": "apiKey", "in": "header", "name": "PRIVATE-TOKEN"},
                "jobToken": {"type": "apiKey", "in": "header", "name": "JOB-TOKEN"},
                "bearer": {"type": "http", "scheme": "bearer"},
            }
        },
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(document(request.app.routes))


ROUTES: list[RawRoute] = [route("/openapi.json", openapi)]
