"""The pages' one style sheet: ours, then ansi2html's colour classes for the job log."""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import Response

from artifactsvc.web.context import HERE
from artifactsvc.web.log import stylesheet as log_colours


@functools.cache
def _css() -> bytes:
    return ((HERE / "static" / "web.css").read_text() + log_colours()).encode()


async def stylesheet(request: Request) -> Response:
    return Response(
        _css(),
        media_type="text/css; charset=utf-8",
        headers={"Cache-Control": "public, max-age=3600"},
    )
