"""The Pipelines API reads: the list with GitLab's filters, one pipeline, the latest of a ref.

Parameters are validated as Grape validates them in lib/api/ci/pipelines.rb: a value outside
its set is `{"error": "<name> does not have a valid value"}`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from artifactsvc.api import spec as S
from artifactsvc.api.context import project_access, services
from artifactsvc.api.pagination import offset_headers, offset_page
from artifactsvc.api.params import choice, optional_boolean, path_id, timestamp
from artifactsvc.api.responses import JSONResponse
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.models import (
    JOB_STATUSES,
    PIPELINE_ORDER,
    PIPELINE_SCOPES,
    PIPELINE_SOURCES,
    PipelineQuery,
)

PREFIX = "/api/v4/projects/{id}/pipelines"
# Ci::HasStatus::AVAILABLE_STATUSES: a pipeline is never `canceling` or waiting for a callback.
PIPELINE_STATUSES = tuple(s for s in JOB_STATUSES if s not in ("canceling", "waiting_for_callback"))


def pipeline_query(request: Request, project_id: int) -> PipelineQuery:
    query = request.query_params
    text = {name: query.get(name) or None for name in ("ref", "sha", "name")}
    return PipelineQuery(
        project_id=project_id,
        scope=choice(query, "scope", PIPELINE_SCOPES),
        status=choice(query, "status", PIPELINE_STATUSES),
        ref=text["ref"],
        sha=text["sha"],
        yaml_errors=optional_boolean(query, "yaml_errors"),
        updated_before=timestamp(query, "updated_before"),
        updated_after=timestamp(query, "updated_after"),
        created_before=timestamp(query, "created_before"),
        created_after=timestamp(query, "created_after"),
        source=choice(query, "source", PIPELINE_SOURCES),
        name=text["name"],
        order_by=choice(query, "order_by", PIPELINE_ORDER) or "id",
        sort=choice(query, "sort", ("asc", "desc")) or "desc",
    )


async def list_pipelines(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    query = pipeline_query(request, access.project.id)
    page = offset_page(request)
    svc = services(request)
    # Past any data: only the count, with no offset that could overflow the query.
    offset, limit = (0, 0) if page.beyond_any_data else (page.offset, page.per_page)
    username = request.query_params.get("username") or None
    found, total = await svc.pipelines.pipelines(access, query, username, offset, limit)
    path = access.project.path_with_namespace
    body = [svc.render.pipeline_item(pipeline, path) for pipeline in found]
    headers = offset_headers(request, svc.settings.external_url, page, total)
    return JSONResponse(body, headers=headers)


async def get_pipeline(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    pipeline_id = path_id(request.path_params["pipeline_id"], kind="pipeline_id")
    svc = services(request)
    pipeline = await svc.pipelines.pipeline(access, pipeline_id)
    return JSONResponse(svc.render.pipeline_detail(pipeline, access.project.path_with_namespace))


async def latest_pipeline(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    svc = services(request)
    pipeline = await svc.pipelines.latest(access, request.query_params.get("ref") or None)
    return JSONResponse(svc.render.pipeline_detail(pipeline, access.project.path_with_namespace))


_DETAIL = S.json_reply(S.ref("PipelineDetail"))
FILTERS = (
    S.query("scope", S.enum(PIPELINE_SCOPES)),
    S.query("status", S.enum(PIPELINE_STATUSES)),
    S.query("ref"),
    S.query("sha"),
    S.boolean("yaml_errors"),
    S.query("username", description="pipelines this user triggered"),
    *(
        S.query(name, {"type": "string", "format": "date-time"})
        for name in ("updated_before", "updated_after", "created_before", "created_after")
    ),
    S.query("source", S.enum(PIPELINE_SOURCES)),
    S.query("name"),
    S.query("order_by", S.enum(PIPELINE_ORDER)),
    S.query("sort", S.enum(("asc", "desc"))),
)

ROUTES: list[RawRoute] = [
    route(
        PREFIX,
        list_pipelines,
        spec=S.Operation(
            "A project's pipelines, with GitLab's filters",
            S.PUBLIC,
            {200: S.json_reply(S.array(S.ref("PipelineItem")), headers=S.PAGE_HEADERS)},
            params=(*FILTERS, *S.PAGES, *S.SUDO),
            errors=(400, 403, 404, 503),
        ),
    ),
    route(
        f"{PREFIX}/latest",
        latest_pipeline,
        spec=S.Operation(
            "The newest pipeline of a ref (default: the default branch)",
            S.PUBLIC,
            {200: _DETAIL},
            params=(S.query("ref"), *S.SUDO),
            errors=(403, 404, 503),
        ),
    ),
    route(
        f"{PREFIX}/{{pipeline_id}}",
        get_pipeline,
        spec=S.Operation(
            "One pipeline", S.PUBLIC, {200: _DETAIL}, params=S.SUDO, errors=(400, 403, 404, 503)
        ),
    ),
]
