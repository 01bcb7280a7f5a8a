"""Operations endpoints: liveness, readiness and metrics (no /api/v4 prefix)."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from artifactsvc.api import spec as S
from artifactsvc.api.context import services
from artifactsvc.api.routing import RawRoute, route


async def liveness(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readiness(request: Request) -> Response:
    if request.app.state.lifecycle.draining:
        # Shutting down (SIGTERM): out of the load balancer while in-flight requests finish.
        return JSONResponse({"status": "draining", "checks": {}}, status_code=503)
    answered = await services(request).health.readiness()
    checks = {name: "ok" if ok else "failed" for name, ok in answered.items()}
    ready = all(answered.values())
    return JSONResponse(
        {"status": "ok" if ready else "failed", "checks": checks},
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    expected = services(request).settings.metrics_token
    if expected is not None and not _bearer_matches(request, expected):
        return JSONResponse(
            {"message": "401 Unauthorized"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return PlainTextResponse(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
    )


def _bearer_matches(request: Request, expected: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    # compare_digest: the time taken says nothing about how much of the token was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode(), expected.encode()
    )


ROUTES: list[RawRoute] = [
    route(
        "/-/liveness",
        liveness,
        spec=S.Operation(
            "200 while the process serves", S.NOBODY, {200: S.json_reply(S.ref("Liveness"))}
        ),
    ),
    route(
        "/-/readiness",
        readiness,
        spec=S.Operation(
            "200 only when the metadata store and object storage answer",
            S.NOBODY,
            {
                200: S.json_reply(S.ref("Readiness")),
                503: S.json_reply(S.ref("Readiness"), "not ready"),
            },
        ),
    ),
    route(
        "/metrics",
        metrics,
        spec=S.Operation(
            "Prometheus text format", S.NOBODY, {200: S.Reply("counters", {"text/plain": S.TEXT})}
        ),
    ),
]
