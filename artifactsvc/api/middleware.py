"""The outermost layer: request ids, security headers, the access log, and the last-resort 500.

A pure ASGI middleware (not BaseHTTPMiddleware) so streamed bodies pass through untouched.
It sits outside Starlette's own error middleware so that even a 500 carries our headers and
GitLab's JSON body. Once a response has started, an exception is re-raised: the server then
aborts the connection, and a truncated body never looks complete.

Every response carries `Content-Security-Policy: default-src 'none'; sandbox` unless its
route set one: GitLab's API sends `default-src 'none'` on every response (lib/api/api.rb),
and `sandbox` makes an HTML or SVG member opened in a browser a document of a unique origin
with no scripts, whatever its Content-Type and Content-Disposition say.

A response that starts while much of the request's body is still unread (an upload refused
before its file, a body over its limit) says `Connection: close`: the server then stops
reading instead of draining an unbounded body to keep the connection (server/protocol.py
closes it gently, so the client still reads the answer).
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import secrets
import time

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from artifactsvc.logs import redact_query
from artifactsvc.metrics import Metrics
from artifactsvc.tracing import Tracing

access_log = logging.getLogger("artifactsvc.access")
error_log = logging.getLogger("artifactsvc.errors")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A request id is this process's random half and a counter: 32 hex digits like a uuid4's,
# unique across replicas, without reading the kernel's random source on every request.
_PROCESS_ID = secrets.token_hex(8)
_REQUEST_COUNTER = itertools.count()
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"SAMEORIGIN"),
]
CONTENT_SECURITY_POLICY = b"default-src 'none'; sandbox"
# Unread request bytes a keep-alive connection may still drain after its answer (a `{}` that
# a GET handler ignores); beyond this, or of unknown length, the connection is closed.
DRAIN_AFTER_ANSWER = 64 * 1024


def _declared_body(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request body's length: 0 for none, None for unknown (chunked)."""
    length = 0
    for name, value in headers:
        if name == b"transfer-encoding" and value.strip().lower() != b"identity":
            return None
        if name == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    return length


def new_request_id() -> str:
    return f"{_PROCESS_ID}{next(_REQUEST_COUNTER) & 0xFFFFFFFFFFFFFFFF:016x}"


def route_template(scope: Scope) -> str:
    """The pattern the router matched (`/api/v4/projects/{id}/jobs`), never the raw path:
    a bounded set of values, fit for a metric label. Starlette records the route it chose."""
    route = scope.get("route")
    template = getattr(route, "pattern", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else "unmatched"


def caller_fields(scope: Scope) -> dict[str, int]:
    """Who asked, as ids (never a token): what api/context.py's `principal` cached."""
    for key in ("artifactsvc.principal.True", "artifactsvc.principal.False"):
        caller = scope.get(key)
        if caller is not None:
            fields = {"user_id": caller.user.id} if caller.user is not None else {}
            if caller.job is not None:
                fields["job_id"] = caller.job.id
            return fields
    return {}


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, tracing: Tracing | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.monotonic()
        self.metrics.started()
        status = 0
        sent = 0
        completed = False
        declared = _declared_body(list(scope.get("headers") or []))
        received = 0
        body_done = declared == 0
        tracing = self.tracing
        span = tracing.start_request(scope["method"], scope["headers"]) if tracing else None
        entered = tracing.enter(span) if tracing and span else None

        async def receive_counted() -> Message:
            nonlocal received, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_done = body_done or not message.get("more_body", False)
            elif message["type"] == "http.disconnect":
                body_done = True
            return message

        def unread_is_large() -> bool:
            if body_done:
                return False
            return declared is None or declared - received > DRAIN_AFTER_ANSWER

        async def send_with_headers(message: Message) -> None:
            nonlocal status, sent, completed
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower()
                    not in (b"x-request-id", b"x-content-type-options", b"x-frame-options")
                ]
                headers += [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
                if not any(name.lower() == b"content-security-policy" for name, _ in headers):
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY))
                if unread_is_large():
                    headers.append((b"connection", b"close"))
                if tracing and span:
                    headers += tracing.response_headers(span)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
                completed = not message.get("more_body", False)
            await send(message)

        try:
            await self.app(scope, receive_counted, send_with_headers)
        except ClientDisconnect:
            # The client went away (an aborted upload): nothing to answer, nothing broken.
            # Logged as nginx's 499; whatever was half-written has already been cleaned up.
            status = status or 499
            access_log.info("client disconnected (request %s)", request_id)
        except Exception:
            if completed:
                error_log.exception("failure after a complete response (request %s)", request_id)
                return
            if status:
                error_log.exception("response aborted after it started (request %s)", request_id)
                raise
            error_log.exception("unexpected failure (request %s)", request_id)
            body = json.dumps({"message": "500 Internal Server Error"}).encode()
            await send_with_headers(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send_with_headers({"type": "http.response.body", "body": body})
        finally:
            if tracing and span:
                tracing.leave(entered)
                tracing.end_request(span, scope["method"], route_template(scope), status or 500)
            self.metrics.request(
                scope["method"],
                status or 500,
                sent,
                route=route_template(scope),
                received=received,
                seconds=time.monotonic() - started,
            )
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            if query:
                target += "?" + redact_query(query)
            duration_ms = (time.monotonic() - started) * 1000
            access_log.info(
                "%s %s %s %d %dB %.1fms",
                request_id,
                scope["method"],
                target,
                status or 500,
                sent,
                duration_ms,
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "route": route_template(scope),
                        "path": target,
                        "status": status or 500,
                        "duration_ms": round(duration_ms, 1),
                        "bytes_sent": sent,
                        "bytes_received": received,
                        **caller_fields(scope),
                        **({"trace_id": tracing.trace_id(span)} if tracing and span else {}),
                    }
                },
            )
