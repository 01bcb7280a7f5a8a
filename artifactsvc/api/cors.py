"""CORS on `/api/*` as GitLab configures rack-cors (`config/application.rb`), so that a page on
any origin can call the API with a token and read the pagination headers.

GitLab's public rule is mirrored: any origin (answered `*`), no credentials, any method,
any request header, a fixed list of exposed headers and rack-cors' default max-age. GitLab
has a second rule, for its own origin only, that allows credentials for its session cookie;
this service has no session, so `Access-Control-Allow-Credentials` is never sent.

As rack-cors does:

* a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered here,
  200 with an empty body, and never reaches a route; a method outside the list gets the 200
  without CORS headers, which the browser reads as a refusal;
* any other request with an `Origin` gets the headers added to its response, whatever its
  status (the response's own headers win a clash);
* every `/api` response but a preflight carries `Vary: Origin`.

It sits inside EdgeMiddleware, so a preflight answer has a request id and is logged too.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# rack-cors' `methods: :any`, in its order.
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# GitLab's `headers_to_expose`, then what CONTRACT section 6 adds: the request id and ETag.
EXPOSED = (
    "Link",
    "X-Total",
    "X-Total-Pages",
    "X-Per-Page",
    "X-Page",
    "X-Next-Page",
    "X-Prev-Page",
    "X-Gitlab-Blob-Id",
    "X-Gitlab-Commit-Id",
    "X-Gitlab-Content-Sha256",
    "X-Gitlab-Encoding",
    "X-Gitlab-File-Name",
    "X-Gitlab-File-Path",
    "X-Gitlab-Last-Commit-Id",
    "X-Gitlab-Ref",
    "X-Gitlab-Size",
    "X-Request-Id",
    "ETag",
)
MAX_AGE = 7200  # rack-cors' default; GitLab sets none

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": ", ".join(METHODS),
    "Access-Control-Expose-Headers": ", ".join(EXPOSED),
    "Access-Control-Max-Age": str(MAX_AGE),
}


def is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


class CorsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_api(scope["path"]):
            await self.app(scope, receive, send)
            return
        request = Headers(scope=scope)
        cross_origin = "origin" in request
        if cross_origin and scope["method"] == "OPTIONS":
            asked = request.get("access-control-request-method")
            if asked is not None:
                await _preflight(send, asked, request.get("access-control-request-headers"))
                return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                headers = MutableHeaders(scope=message)
                if cross_origin:
                    for name, value in CORS_HEADERS.items():
                        headers.setdefault(name, value)
                vary = [v.strip() for v in headers.get("vary", "").split(",") if v.strip()]
                headers["Vary"] = ", ".join(dict.fromkeys([*vary, "Origin"]))
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(send: Send, method: str, request_headers: str | None) -> None:
    headers: dict[str, str] = {}
    if method.upper() in METHODS:
        headers.update(CORS_HEADERS)
        if request_headers is not None:
            headers["Access-Control-Allow-Headers"] = request_headers  # `headers: :any`
    raw = [(name.lower().encode(), value.encode("latin-1")) for name, value in headers.items()]
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [*raw, (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
