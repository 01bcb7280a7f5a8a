"""Operations endpoints: liveness, readiness and metrics (no /api/v4 prefix)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from artifactsvc.api import spec as S
from artifactsvc.api.context import services
from artifactsvc.api.routing import RawRoute, route


async def liveness(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readiness(request: Request) -> Response:
    answered = await services(request).health.readiness()
    checks = {name: "ok" if ok else "failed" for name, ok in answered.items()}
    ready = all(answered.values())
    return JSONResponse(
        {"status": "ok" if ready else "failed", "checks": checks},
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    return PlainTextResponse(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
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
