"""Errors on the pages: the API's one table gives the status (api/errors.py), a page says it.

An anonymous viewer refused a project page (a private project looks absent to it, as in the
API) is sent to sign in, with the page as its return path, as GitLab's
`authenticate_user!` does; a signed-in one gets the 404 or 403 page.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from artifactsvc import errors
from artifactsvc.api.errors import ApiError, status_and_body
from artifactsvc.web import links
from artifactsvc.web.context import current_path, render, viewer

log = logging.getLogger("artifactsvc.web")

TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    416: "Range not satisfiable",
    503: "Service unavailable",
}
_SIGN_IN_FIRST = (
    errors.ProjectNotFound,
    errors.Unauthenticated,
    errors.InvalidToken,
    errors.Forbidden,
)


async def error_page(request: Request, status: int, detail: str = "") -> Response:
    title = TITLES.get(status, "Error")
    return await render(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        status_code=status,
    )


async def page_for_error(request: Request, error: Exception) -> Response:
    """The page for a domain or edge error; anything else is re-raised (the edge's 500)."""
    if not isinstance(error, errors.ArtifactsvcError | ApiError):
        raise error
    status, body = status_and_body(error)
    if status >= 500:
        log.error("%s %s failed: %r", request.method, request.url.path, error, exc_info=error)
    principal = await viewer(request)
    if (
        principal.anonymous
        and request.method in ("GET", "HEAD")
        and isinstance(error, _SIGN_IN_FIRST)
    ):
        return RedirectResponse(links.sign_in(current_path(request)), status_code=302)
    if status == 401:
        status = 403  # a session that no longer holds: the pages have no WWW-Authenticate
    return await error_page(request, status, body.get("message") or body.get("error") or "")
