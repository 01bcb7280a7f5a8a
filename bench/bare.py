"""The baseline of the Jobs API figures: a bare Starlette app that answers every path with
JSON built once (`one` job, or a `page` when the query has `per_page`), served by the same
uvicorn (uvloop, httptools) as `artifactsvc serve`, in a process of its own.

`BENCH_BARE_BODIES` names a JSON file `{"one": ..., "page": ...}`: the service's own answers.
"""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def bare_app(bodies: dict[str, Any]) -> Starlette:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(bodies["page" if "per_page" in request.query_params else "one"])

    return Starlette(routes=[Route("/{path:path}", endpoint)])


def app_from_env() -> Starlette:
    """uvicorn's factory (`--factory bench.bare:app_from_env`)."""
    with open(os.environ["BENCH_BARE_BODIES"], encoding="utf-8") as file:
        return bare_app(json.load(file))
