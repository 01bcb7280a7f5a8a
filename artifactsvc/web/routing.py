"""The project pages' router: one Starlette route that takes every `/<project>/-/<page>`
path (on the raw path, as api/routing.py does) and dispatches `<page>` through a table.

A project page that names nothing is an HTML 404, and a hostile path (too long, `..`, NUL,
bad escapes) a 400, never a 500. Errors a page raises become pages (web/errors.py).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from artifactsvc.api.routing import raw_path
from artifactsvc.web.addressing import is_project_page, split_web_path
from artifactsvc.web.context import on_pages_origin
from artifactsvc.web.errors import error_page, page_for_error

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Page:
    """`pattern` is a regex over the raw rest of the path, after `/-/`."""

    pattern: re.Pattern[str]
    endpoint: Endpoint
    methods: frozenset[str]


def page(pattern: str, endpoint: Endpoint, methods: Sequence[str] = ("GET",)) -> Page:
    allowed = {method.upper() for method in methods}
    if "GET" in allowed:
        allowed.add("HEAD")
    return Page(re.compile(f"^{pattern}$"), endpoint, frozenset(allowed))


async def guarded(request: Request, endpoint: Endpoint) -> Response:
    if on_pages_origin(request):
        return PlainTextResponse("404 Not Found", status_code=404)
    try:
        return await endpoint(request)
    except Exception as error:
        return await page_for_error(request, error)


class ProjectPages(BaseRoute):
    """Every `/<namespace>/<project>/-/<page>` path (not `/api/`, not `/-/`)."""

    def __init__(self, pages: Sequence[Page]) -> None:
        self.pages = tuple(pages)
        self.pattern = "/{project}/-/{page}"  # what the access log and metrics call it

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or not is_project_page(raw_path(scope)):
            return Match.NONE, {}
        return Match.FULL, {"endpoint": self.handle}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self._respond(request)
        await response(scope, receive, send)

    async def _respond(self, request: Request) -> Response:
        if on_pages_origin(request):
            return PlainTextResponse("404 Not Found", status_code=404)
        try:
            where = split_web_path(raw_path(request.scope))
        except Exception as error:
            return await page_for_error(request, error)
        request.scope["path_params"] = {"project": where.project}
        allowed: set[str] = set()
        for candidate in self.pages:
            found = candidate.pattern.match(where.rest)
            if found is None:
                continue
            if request.method not in candidate.methods:
                allowed |= candidate.methods
                continue
            request.scope["path_params"] = {"project": where.project, **found.groupdict()}
            return await guarded(request, candidate.endpoint)
        if allowed:
            response = await error_page(request, 405)
            response.headers["Allow"] = ", ".join(sorted(allowed))
            return response
        return await error_page(request, 404)
