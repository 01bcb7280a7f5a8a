"""Projects, pipelines, the current user and the version."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc import __version__
from artifactsvc.api.context import principal, project_access, services
from artifactsvc.api.pagination import offset_headers, offset_page
from artifactsvc.api.params import path_id
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.auth import require_authenticated
from artifactsvc.errors import Forbidden

PREFIX = "/api/v4"


async def get_project(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    if access.via_job_token:
        raise Forbidden()
    return JSONResponse(services(request).render.project(access.project))


async def list_pipelines(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    access.require_read_pipelines()
    page = offset_page(request)
    svc = services(request)
    # Past any data: only the count, with no offset that could overflow the query.
    offset, limit = (0, 0) if page.beyond_any_data else (page.offset, page.per_page)
    found, total = await svc.jobs.pipelines(access, offset, limit)
    path = access.project.path_with_namespace
    body = [svc.render.pipeline(pipeline, path) for pipeline in found]
    headers = offset_headers(request, svc.settings.external_url, page, total)
    return JSONResponse(body, headers=headers)


async def get_pipeline(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    pipeline_id = path_id(request.path_params["pipeline_id"], kind="pipeline_id")
    svc = services(request)
    pipeline = await svc.jobs.pipeline(access, pipeline_id)
    body = svc.render.pipeline(pipeline, access.project.path_with_namespace)
    body["tag"] = pipeline.tag
    body["before_sha"] = None
    body["user"] = None
    return JSONResponse(body)


async def current_user(request: Request) -> Response:
    caller = await principal(request)
    require_authenticated(caller)
    if caller.user is None:
        raise Forbidden()
    return JSONResponse(services(request).render.user(caller.user, full=True))


async def version(request: Request) -> Response:
    await principal(request)  # open to anonymous callers, but a bad token is still a 401
    return JSONResponse({"version": __version__, "revision": "artifactsvc", "enterprise": False})


ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/projects/{{id}}", get_project),
    route(f"{PREFIX}/projects/{{id}}/pipelines", list_pipelines),
    route(f"{PREFIX}/projects/{{id}}/pipelines/{{pipeline_id}}", get_pipeline),
    route(f"{PREFIX}/user", current_user),
    route(f"{PREFIX}/version", version),
]
