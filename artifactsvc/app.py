"""`create_app`: builds every part of the service from settings; nothing exists at import time."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Router

from artifactsvc.api import jobs as jobs_api
from artifactsvc.api import ops as ops_api
from artifactsvc.api import projects as projects_api
from artifactsvc.api.context import Services
from artifactsvc.api.errors import domain_error, http_error
from artifactsvc.api.middleware import EdgeMiddleware
from artifactsvc.api.render import Renderer
from artifactsvc.errors import ArtifactsvcError
from artifactsvc.jobs import JobService
from artifactsvc.metadata import MetadataStore, open_metadata_store
from artifactsvc.metrics import Metrics
from artifactsvc.settings import Settings


def create_app(
    settings: Settings,
    *,
    store: MetadataStore | None = None,
    objects: Any = None,
) -> Starlette:
    """The ASGI app. `store`/`objects` may be injected (tests); otherwise built from settings."""
    owned_store = store is None
    metadata = store if store is not None else open_metadata_store(settings.database_url)
    metrics = Metrics()
    services = Services(
        settings=settings,
        store=metadata,
        jobs=JobService(metadata),
        render=Renderer(settings.external_url),
        extra={"objects": objects},
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await metadata.migrate()
        try:
            yield
        finally:
            if owned_store:
                metadata.close()

    routes: list[BaseRoute] = [*ops_api.ROUTES, *projects_api.ROUTES, *jobs_api.ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(EdgeMiddleware, metrics=metrics)],
        exception_handlers={ArtifactsvcError: domain_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    # Routes match the raw path; Starlette's slash redirect works on the decoded one.
    router: Router = app.router
    router.redirect_slashes = False
    app.state.services = services
    app.state.metrics = metrics
    return app
