"""`create_app`: builds every part of the service from settings; nothing exists at import time."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from artifactsvc.api import artifacts as artifacts_api
from artifactsvc.api import files as files_api
from artifactsvc.api import jobs as jobs_api
from artifactsvc.api import openapi as openapi_api
from artifactsvc.api import ops as ops_api
from artifactsvc.api import pipelines as pipelines_api
from artifactsvc.api import projects as projects_api
from artifactsvc.api import runner as runner_api
from artifactsvc.api.context import Services
from artifactsvc.api.cors import CorsMiddleware
from artifactsvc.api.errors import ApiError, domain_error, http_error
from artifactsvc.api.middleware import EdgeMiddleware
from artifactsvc.api.render import Renderer
from artifactsvc.errors import ArtifactsvcError
from artifactsvc.lifecycle import Lifecycle
from artifactsvc.metadata import MetadataStore
from artifactsvc.metrics import Metrics
from artifactsvc.objects import ObjectStore
from artifactsvc.settings import Settings
from artifactsvc.web import routes as web_routes
from artifactsvc.web.context import build_web_state
from artifactsvc.wiring import build_runtime


def create_app(
    settings: Settings,
    *,
    store: MetadataStore | None = None,
    objects: ObjectStore | None = None,
) -> Starlette:
    """The ASGI app. `store`/`objects` may be injected (tests); otherwise built from settings."""
    metrics = Metrics()
    runtime = build_runtime(
        settings,
        store=store,
        objects=objects,
        count_storage=metrics.storage_request,
        count_storage_error=metrics.storage_error,
    )
    metrics.include_zip_work(runtime.zip_work)
    metrics.include_cache(runtime.index_cache)
    if runtime.index_workers is not None:
        metrics.include_index_workers(runtime.index_workers)
    services = Services(
        settings=settings,
        auth=runtime.auth,
        jobs=runtime.jobs,
        pipelines=runtime.pipelines,
        artifacts=runtime.artifacts,
        uploads=runtime.uploads,
        files=runtime.files,
        health=runtime.health,
        render=Renderer(settings.external_url),
        usage=runtime.usage,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.store.migrate()
        # The first streamed response would import anyio's asyncio backend (~80 ms, Starlette
        # runs a task group per StreamingResponse): imported here, before serving.
        async with anyio.create_task_group():
            pass
        await runtime.health.warm_up()
        try:
            yield
        finally:
            runtime.close()

    routes: list[BaseRoute] = [
        *ops_api.ROUTES,
        *projects_api.ROUTES,
        *pipelines_api.ROUTES,
        *files_api.ROUTES,
        *artifacts_api.ROUTES,
        *jobs_api.ROUTES,
        *runner_api.ROUTES,
        *openapi_api.ROUTES,
        # After the API's: the pages take what none of those did (docs/web.md).
        *web_routes(),
    ]
    app = Starlette(
        routes=routes,
        # Edge outermost: a preflight the CORS layer answers still gets a request id and a log line.
        middleware=[
            Middleware(EdgeMiddleware, metrics=metrics, tracing=runtime.tracing),
            Middleware(CorsMiddleware),
        ],
        exception_handlers={
            ArtifactsvcError: domain_error,
            ApiError: domain_error,
            HTTPException: http_error,
        },
        lifespan=lifespan,
    )
    # Routes match the raw path; Starlette's slash redirect works on the decoded one.
    app.router.redirect_slashes = False
    app.state.services = services
    # Without SESSION_SECRET, a secret of this process: sessions end when it does, and each
    # replica would refuse the others' cookies (docs/web.md says to set one).
    app.state.web = build_web_state(
        settings.session_secret or secrets.token_urlsafe(32),
        settings.session_ttl,
        settings.pages_url,
    )
    app.state.metrics = metrics
    app.state.lifecycle = Lifecycle()  # the server running the app flips it (server/shutdown.py)
    return app
