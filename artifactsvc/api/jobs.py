"""The Jobs API: lists, a job, its trace, and the state transitions (CONTRACT section 6)."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from artifactsvc.access import Access
from artifactsvc.api import spec as S
from artifactsvc.api.context import json_body, principal, project_access, services
from artifactsvc.api.pagination import (
    keyset_headers,
    keyset_page,
    offset_headers,
    offset_page,
)
from artifactsvc.api.params import body_boolean, boolean, path_id, scopes
from artifactsvc.api.responses import JSONResponse
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.auth import require_authenticated
from artifactsvc.models import JOB_SCOPES, JobQuery

PREFIX = "/api/v4/projects/{id}"


async def list_project_jobs(request: Request) -> Response:
    access = await project_access(request, job_token=True)
    query = JobQuery(project_id=access.project.id, statuses=scopes(request.query_params))
    return await _list(request, access, query)


async def list_pipeline_jobs(request: Request) -> Response:
    access = await project_access(request, job_token=True)
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
    found = await svc.jobs.list_jobs(access, query, page.offset, page.per_page, count=True)
    body = [svc.render.bridge(view, access.project) for view in found.jobs]
    return JSONResponse(
        body, headers=offset_headers(request, svc.settings.external_url, page, found.total)
    )


async def _list(request: Request, access: Access, query: JobQuery) -> Response:
    svc = services(request)
    external = svc.settings.external_url
    if query.pipeline_id is None and request.query_params.get("pagination") == "keyset":
        keyset = keyset_page(request)
        # Only the cursor changes: the keyset list filters exactly as the offset list does.
        query = replace(query, before_id=keyset.before_id)
        # One more than a page: whether a next page exists, without counting.
        result = await svc.jobs.list_jobs(access, query, 0, keyset.per_page + 1, count=False)
        shown = result.jobs[: keyset.per_page]
        body = svc.render.jobs(shown, access.project)
        has_more = len(result.jobs) > keyset.per_page
        ids = [view.job.id for view in shown]
        headers = keyset_headers(request, external, keyset, ids, has_more)
        return JSONResponse(body, headers=headers)
    page = offset_page(request)
    # GitLab counts a pipeline's jobs, never a project's (`without_count: true`): a project's
    # page reads one row more to know whether a next page exists.
    counted = query.pipeline_id is not None
    # Past any data: the same checks (permission, pipeline) and count, but no offset that
    # could overflow the query.
    offset, limit = (0, 0) if page.beyond_any_data else (page.offset, page.per_page)
    extra = 0 if counted or not limit else 1
    result = await svc.jobs.list_jobs(access, query, offset, limit + extra, count=counted)
    shown = result.jobs[:limit]
    body = svc.render.jobs(shown, access.project)
    headers = offset_headers(
        request,
        external,
        page,
        result.total,
        has_more=len(result.jobs) > len(shown),
        empty=not shown,
    )
    return JSONResponse(body, headers=headers)


async def get_job(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    svc = services(request)
    return JSONResponse(svc.render.job(await svc.jobs.show(access, job_id), access.project))


async def token_job(request: Request) -> Response:
    """The job of the CI job token (GET /job)."""
    caller = await principal(request, job_token=True)
    require_authenticated(caller)
    svc = services(request)
    shown, project = await svc.jobs.token_job(caller)
    return JSONResponse(svc.render.job(shown, project))


async def get_trace(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    log = await services(request).jobs.trace(access, job_id)
    return StreamingResponse(
        log.chunks,
        media_type="text/plain",
        headers={
            "Content-Disposition": f'infile; filename="{job_id}.log"',
            "Content-Length": str(log.size),
        },
    )


async def _transition(request: Request, action: str, status_code: int) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    body = await json_body(request)
    svc = services(request)
    if action == "cancel":
        force = boolean(request.query_params, "force") or body_boolean(body, "force")
        shown = await svc.jobs.cancel(access, job_id, force=force)
    else:
        transitions = {"retry": svc.jobs.retry, "erase": svc.jobs.erase, "play": svc.jobs.play}
        shown = await transitions[action](access, job_id)
    if action == "play" and shown.job.kind == "bridge":
        # GitLab presents a played bridge as a Bridge, everything else as a Job.
        return JSONResponse(svc.render.bridge(shown, access.project), status_code=status_code)
    return JSONResponse(svc.render.job(shown, access.project), status_code=status_code)


async def cancel(request: Request) -> Response:
    return await _transition(request, "cancel", 201)


async def retry(request: Request) -> Response:
    return await _transition(request, "retry", 201)


async def erase(request: Request) -> Response:
    return await _transition(request, "erase", 201)


async def play(request: Request) -> Response:
    return await _transition(request, "play", 200)


JOB = S.json_reply(S.ref("Job"))
LIST_ERRORS = (400, 403, 404, 503)
KEYSET = (
    S.query("pagination", description="`keyset`: keyset pagination; anything else: offset"),
    S.query("cursor", description="the cursor of a keyset page's Link rel=next"),
    # Read in keyset mode only, where anything but `id` and `desc` is a 400.
    S.query("order_by", description="keyset pagination: id"),
    S.query("sort", description="keyset pagination: desc"),
)


def _transition_spec(summary: str, status: int, reply: S.Reply) -> S.Operation:
    return S.Operation(
        summary,
        S.USER,
        {status: reply},
        params=S.SUDO,
        body=S.EMPTY_JSON,
        errors=(400, 403, 404, 413, 503),
    )


_CANCEL_BODY = S.Body({"application/json": {"type": "object", "properties": {"force": {}}}})

ROUTES: list[RawRoute] = [
    route(
        "/api/v4/job",
        token_job,
        spec=S.Operation(
            "The job of the CI job token", S.JOB, {200: JOB}, params=S.SUDO, errors=(403, 404, 503)
        ),
    ),
    route(
        f"{PREFIX}/jobs",
        list_project_jobs,
        spec=S.Operation(
            "A project's jobs, newest first",
            S.USER_OR_JOB,
            {200: S.json_reply(S.array(S.ref("Job")), headers=("X-Per-Page", "Link"))},
            params=(*S.scopes(JOB_SCOPES), *S.PAGES, *KEYSET, *S.SUDO),
            description="Offset pages carry X-Page, X-Next-Page, X-Prev-Page and no total (GitLab"
            " does not count a project's jobs); keyset pages X-Per-Page and, unless last, a Link"
            " rel=next.",
            errors=LIST_ERRORS,
        ),
    ),
    route(
        f"{PREFIX}/pipelines/{{pipeline_id}}/jobs",
        list_pipeline_jobs,
        spec=S.Operation(
            "A pipeline's jobs, newest first",
            S.USER_OR_JOB,
            {200: S.json_reply(S.array(S.ref("Job")), headers=S.PAGE_HEADERS)},
            params=(
                *S.scopes(JOB_SCOPES),
                S.boolean("include_retried", "list retried jobs too"),
                *S.PAGES,
                *S.SUDO,
            ),
            errors=LIST_ERRORS,
        ),
    ),
    route(
        f"{PREFIX}/pipelines/{{pipeline_id}}/bridges",
        list_pipeline_bridges,
        spec=S.Operation(
            "A pipeline's bridge (trigger) jobs",
            S.USER,
            {200: S.json_reply(S.array(S.ref("Bridge")), headers=S.PAGE_HEADERS)},
            params=(*S.scopes(JOB_SCOPES), *S.PAGES, *S.SUDO),
            errors=LIST_ERRORS,
        ),
    ),
    route(
        f"{PREFIX}/jobs/{{job_id}}",
        get_job,
        spec=S.Operation("One job", S.USER, {200: JOB}, params=S.SUDO, errors=(400, 403, 404, 503)),
    ),
    route(
        f"{PREFIX}/jobs/{{job_id}}/trace",
        get_trace,
        spec=S.Operation(
            "A job's log",
            S.USER,
            {200: S.Reply("the log, empty if none", {"text/plain": S.TEXT})},
            params=S.SUDO,
            errors=(400, 403, 404, 503),
        ),
    ),
    route(
        f"{PREFIX}/jobs/{{job_id}}/cancel",
        cancel,
        ["POST"],
        spec=S.Operation(
            "Cancel a job (unchanged if it cannot be canceled)",
            S.USER,
            {201: JOB},
            params=(S.boolean("force", "a canceling job becomes canceled (maintainers)"), *S.SUDO),
            body=_CANCEL_BODY,
            errors=(400, 403, 404, 413, 503),
        ),
    ),
    route(
        f"{PREFIX}/jobs/{{job_id}}/retry",
        retry,
        ["POST"],
        spec=_transition_spec("Retry a job: 201 with the new job", 201, JOB),
    ),
    route(
        f"{PREFIX}/jobs/{{job_id}}/erase",
        erase,
        ["POST"],
        spec=_transition_spec("Erase a job's artifacts and log", 201, JOB),
    ),
    route(
        f"{PREFIX}/jobs/{{job_id}}/play",
        play,
        ["POST"],
        spec=_transition_spec(
            "Run a manual or delayed job (a bridge is answered as a Bridge)",
            200,
            S.json_reply({"anyOf": [S.ref("Job"), S.ref("Bridge")]}),
        ),
    ),
]
