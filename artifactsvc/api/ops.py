"""Operations endpoints: liveness, readiness and metrics (no /api/v4 prefix)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from artifactsvc.api.context import services
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.errors import ArtifactsvcError

log = logging.getLogger("artifactsvc.ops")
READINESS_TIMEOUT = 5.0


async def liveness(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readiness(request: Request) -> Response:
    svc = services(request)
    checks: dict[str, str] = {}
    # Callables, not coroutines: each probe is created only when it is awaited.
    probes = {"metadata": svc.store.ping, "storage": svc.objects.ping}
    for name, probe in probes.items():
        try:
            await asyncio.wait_for(probe(), READINESS_TIMEOUT)
            checks[name] = "ok"
        except (ArtifactsvcError, TimeoutError) as error:
            log.warning("readiness: %s failed: %r", name, error)
            checks[name] = "failed"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "failed", "checks": checks},
        status_code=200 if ready else 503,
    )


async def metrics(request: Request) -> Response:
    return PlainTextResponse(
        request.app.state.metrics.render(), media_type="text/plain; version=0.0.4"
    )


ROUTES: list[RawRoute] = [
    route("/-/liveness", liveness),
    route("/-/readiness", readiness),
    route("/metrics", metrics),
]
