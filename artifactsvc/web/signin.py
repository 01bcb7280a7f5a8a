"""Sign-in with a personal access token, once, for a session cookie; sign-out.

The token is checked by the same AuthService call as every API request (auth.py
`token_digest`); the cookie then holds its digest, signed (web/session.py). The cookie is
HttpOnly, SameSite=Strict, Secure when the request came over https (uvicorn believes
`X-Forwarded-Proto` from FORWARDED_ALLOW_IPS), and expires after SESSION_TTL.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from artifactsvc.api.context import services, small_form
from artifactsvc.auth import hash_token
from artifactsvc.errors import Forbidden, InsufficientScope, InvalidToken
from artifactsvc.web import links
from artifactsvc.web.context import (
    FORM_LIMIT,
    render,
    require_csrf,
    same_origin,
    viewer,
    web,
)
from artifactsvc.web.session import COOKIE

TOKEN_FIELD = "personal_access_token"
MAX_TOKEN = 1024


async def sign_in_page(request: Request) -> Response:
    return_to = links.safe_return_path(request.query_params.get("redirect_to"))
    principal = await viewer(request)
    if return_to and not principal.anonymous:
        return RedirectResponse(return_to, status_code=302)
    return await render(request, "sign_in.html", {"return_to": return_to, "failed": False})


async def sign_in(request: Request) -> Response:
    if not same_origin(request):
        raise Forbidden("cross-site sign-in")
    form = await small_form(request, FORM_LIMIT)
    token = form.get(TOKEN_FIELD, "").strip()
    return_to = links.safe_return_path(form.get("redirect_to"))
    try:
        if not token or len(token) > MAX_TOKEN:
            raise InvalidToken()
        digest = hash_token(token)
        await services(request).auth.token_digest(digest)
    except (InvalidToken, InsufficientScope):
        context = {"return_to": return_to, "failed": True}
        return await render(request, "sign_in.html", context, status_code=401)
    response = RedirectResponse(return_to or links.SIGN_IN, status_code=303)
    state = web(request)
    response.set_cookie(
        COOKIE,
        state.sessions.issue(digest),
        max_age=state.sessions.ttl,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


async def sign_out(request: Request) -> Response:
    await require_csrf(request)
    response = RedirectResponse(links.SIGN_IN, status_code=303)
    response.delete_cookie(
        COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="strict"
    )
    return response
