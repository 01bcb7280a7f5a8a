"""The Jobs API: lists, a job, its trace, and the state transitions (CONTRACT section 6)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc.api.context import json_body, project_access, services
from artifactsvc.api.pagination import (
    keyset_headers,
    keyset_page,
    offset_headers,
    offset_page,
)
from artifactsvc.api.params import boolean, path_id, scopes
from artifactsvc.api.render import Json
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.auth import Access
from artifactsvc.metadata import JobQuery
from artifactsvc.models import Job

PREFIX = "/api/v4/projects/{id}"


async def _job_json(request: Request, access: Access, job: Job) -> Json:
    svc = services(request)
    live = await svc.jobs.live_artifacts(job)
    return svc.render.job(job, access.project, live)


async def list_project_jobs(request: Request) -> Response:
    access = await project_access(request)
    query = JobQuery(project_id=access.project.id, statuses=scopes(request.query_params))
    return await _list(request, access, query)


async def list_pipeline_jobs(request: Request) -> Response:
    access = await project_access(request)
    query = JobQuery(
        project_id=access.project.id,
        pipeline_id=path_id(request.path_params["pipeline_id"], kind="pipeline_id"),
        statuses=scopes(request.query_params),
        include_retried=boolean(request.query_params, "include_retried"),
    )
    return await _list(request, access, query)


async def list_pipeline_bridges(request: Request) -> Response:
    access = await project_access(request)
    svc = services(request)
    query = JobQuery(
        project_id=access.project.id,
        pipeline_id=path_id(request.path_params["pipeline_id"], kind="pipeline_id"),
        statuses=scopes(request.query_params),
        kind="bridge",
        include_retried=False,
    )
    page = offset_page(request)
    result = await svc.jobs.list_jobs(access, query, page.offset, page.per_page)
    body = []
    for bridge in result.jobs:
        downstream = await svc.jobs.downstream(bridge)
        rendered = (
            svc.render.downstream(downstream[0], downstream[1]) if downstream is not None else None
        )
        body.append(svc.render.bridge(bridge, access.project, rendered))
    total = result.total or 0
    return JSONResponse(
        body, headers=offset_headers(request, svc.settings.external_url, page, total)
    )


async def _list(request: Request, access: Access, query: JobQuery) -> Response:
    svc = services(request)
    external = svc.settings.external_url
    if query.pipeline_id is None and request.query_params.get("pagination") == "keyset":
        keyset = keyset_page(request)
        query = JobQuery(
            project_id=query.project_id, statuses=query.statuses, before_id=keyset.before_id
        )
        result = await svc.jobs.list_jobs(access, query, 0, keyset.per_page + 1)
        jobs = result.jobs[: keyset.per_page]
        body = [await _job_json(request, access, job) for job in jobs]
        has_more = len(result.jobs) > keyset.per_page
        headers = keyset_headers(request, external, keyset, [j.id for j in jobs], has_more)
        return JSONResponse(body, headers=headers)
    page = offset_page(request)
    if page.beyond_any_data:
        # Same checks (permission, pipeline) and count, without an offset that overflows.
        counted = await svc.jobs.list_jobs(access, query, 0, 0)
        headers = offset_headers(request, external, page, counted.total or 0)
        return JSONResponse([], headers=headers)
    result = await svc.jobs.list_jobs(access, query, page.offset, page.per_page)
    body = [await _job_json(request, access, job) for job in result.jobs]
    return JSONResponse(body, headers=offset_headers(request, external, page, result.total or 0))


async def get_job(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    job = await services(request).jobs.get(access, job_id)
    return JSONResponse(await _job_json(request, access, job))


async def get_trace(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    content = await services(request).jobs.trace(access, job_id)
    return Response(
        content,
        media_type="text/plain",
        headers={"Content-Disposition": f'infile; filename="{job_id}.log"'},
    )


async def _transition(request: Request, action: str, status_code: int) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    await json_body(request)
    jobs = services(request).jobs
    transitions = {
        "cancel": jobs.cancel,
        "retry": jobs.retry,
        "erase": jobs.erase,
        "play": jobs.play,
    }
    job = await transitions[action](access, job_id)
    return JSONResponse(await _job_json(request, access, job), status_code=status_code)


async def cancel(request: Request) -> Response:
    return await _transition(request, "cancel", 201)


async def retry(request: Request) -> Response:
    return await _transition(request, "retry", 201)


async def erase(request: Request) -> Response:
    return await _transition(request, "erase", 201)


async def play(request: Request) -> Response:
    return await _transition(request, "play", 200)


ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/jobs", list_project_jobs),
    route(f"{PREFIX}/pipelines/{{pipeline_id}}/jobs", list_pipeline_jobs),
    route(f"{PREFIX}/pipelines/{{pipeline_id}}/bridges", list_pipeline_bridges),
    route(f"{PREFIX}/jobs/{{job_id}}", get_job),
    route(f"{PREFIX}/jobs/{{job_id}}/trace", get_trace),
    route(f"{PREFIX}/jobs/{{job_id}}/cancel", cancel, ["POST"]),
    route(f"{PREFIX}/jobs/{{job_id}}/retry", retry, ["POST"]),
    route(f"{PREFIX}/jobs/{{job_id}}/erase", erase, ["POST"]),
    route(f"{PREFIX}/jobs/{{job_id}}/play", play, ["POST"]),
]
