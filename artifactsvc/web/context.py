"""Per-request plumbing of the pages: the app's web state, the viewer (from the session
cookie, never from a token header), project access, CSRF, and rendering a template."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from artifactsvc.access import ANONYMOUS, Access, Principal
from artifactsvc.api.context import services, small_form
from artifactsvc.errors import Forbidden, InvalidToken
from artifactsvc.web import links
from artifactsvc.web.capabilities import Capabilities
from artifactsvc.web.session import COOKIE, Session, Sessions

HERE = Path(__file__).resolve().parent
# The pages load nothing but their own style sheet and the archive's images and PDFs; no
# script runs on them at all.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; object-src 'self'; "
    "frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)
CSRF_FIELD = "authenticity_token"  # GitLab's name for it
FORM_LIMIT = 16 * 1024  # bytes of a page's form post, read into memory; more is 413


@dataclass(frozen=True)
class WebState:
    """What `create_app` builds for the pages (app.state.web)."""

    templates: Jinja2Templates
    sessions: Sessions
    capabilities: Capabilities
    pages_url: str | None  # PAGES_URL: where reports open, when set


def build_web_state(secret: str, session_ttl: int, pages_url: str | None) -> WebState:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals["links"] = links
    return WebState(
        Jinja2Templates(env=environment),
        Sessions(secret, session_ttl),
        Capabilities(secret),
        pages_url,
    )


def web(request: Request) -> WebState:
    found: WebState = request.app.state.web
    return found


def on_pages_origin(request: Request) -> bool:
    """Whether the request came for PAGES_URL's host, which serves reports and nothing else:
    a page or a session there would share an origin with every report's scripts."""
    pages_url = web(request).pages_url
    if pages_url is None:
        return False
    return urlsplit(pages_url).netloc.lower() == request.headers.get("host", "").lower()


def session(request: Request) -> Session | None:
    return web(request).sessions.read(request.cookies.get(COOKIE))


async def viewer(request: Request) -> Principal:
    """The signed-in user, or anonymous: a session whose token was revoked (or whose user
    was blocked) counts as none. A form post needs the token's `api` scope, as the API's
    writes do (InsufficientScope otherwise)."""
    key = "artifactsvc.web.viewer"
    cached: Principal | None = request.scope.get(key)
    if cached is not None:
        return cached
    found = session(request)
    principal = ANONYMOUS
    if found is not None:
        write = request.method not in ("GET", "HEAD")
        try:
            principal = await services(request).auth.token_digest(found.digest, write=write)
        except InvalidToken:
            principal = ANONYMOUS
    request.scope[key] = principal
    # api/middleware.py logs the caller's ids from here.
    request.scope["artifactsvc.principal.False"] = principal
    return principal


async def project_access(request: Request) -> Access:
    """The viewer's standing in the page's project (ProjectNotFound if it may not see it)."""
    project_path: str = request.path_params["project"]
    return await services(request).auth.project_access(await viewer(request), project_path)


def same_origin(request: Request) -> bool:
    """A form post must come from our own pages: a browser says where it comes from in
    `Sec-Fetch-Site` and `Origin`, and a post another site makes is refused before its
    CSRF token is even read (SameSite=Strict already keeps the cookie off it)."""
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    # Ours: the host asked for, or EXTERNAL_URL's (a proxy in front may rewrite Host).
    ours = {
        request.headers.get("host", "").lower(),
        urlsplit(services(request).settings.external_url).netloc.lower(),
    }
    return urlsplit(origin).netloc.lower() in ours


async def require_csrf(request: Request) -> dict[str, str]:
    """The posted form, once its CSRF token matches the session's; Forbidden otherwise."""
    fields = await small_form(request, FORM_LIMIT)
    if not same_origin(request) or not web(request).sessions.csrf_valid(
        session(request), fields.get(CSRF_FIELD)
    ):
        raise Forbidden("invalid authenticity token")
    return fields


def current_path(request: Request) -> str:
    raw = request.scope.get("raw_path") or request.url.path.encode()
    path = bytes(raw).split(b"?", 1)[0].decode("latin-1")
    query = request.url.query
    return f"{path}?{query}" if query else path


def page_headers(request: Request, principal: Principal) -> dict[str, str]:
    headers = {"Content-Security-Policy": PAGE_POLICY, "Referrer-Policy": "same-origin"}
    if not principal.anonymous:
        headers["Cache-Control"] = "private, no-store"
    return headers


async def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    status_code: int = 200,
) -> Response:
    principal = await viewer(request)
    found = session(request)
    state = web(request)
    full = {
        "viewer": principal.user,
        "csrf_field": CSRF_FIELD,
        "csrf": state.sessions.csrf_token(found) if found and not principal.anonymous else "",
        "here": current_path(request),
        **context,
    }
    # Rendered on a pool thread: a page is CPU work that grows with what it shows (a file's
    # view of 1 MiB of text, ~22,000 lines, takes about 110 ms), which on the event loop
    # would stall every other request of the process for as long.
    html = await run_in_threadpool(
        state.templates.get_template(template).render, {"request": request, **full}
    )
    return HTMLResponse(html, status_code=status_code, headers=page_headers(request, principal))
