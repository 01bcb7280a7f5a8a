"""Project artifact endpoints: archive downloads by job id, keep and delete.

The by-ref routes (`jobs/artifacts/<ref>/download` and `.../raw/<path>`) are in api/files.py,
which owns the `jobs/artifacts/` prefix.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc.api import spec as S
from artifactsvc.api.context import json_body, project_access, services
from artifactsvc.api.downloads import serve_download
from artifactsvc.api.params import path_id
from artifactsvc.api.routing import RawRoute, route

PREFIX = "/api/v4/projects/{id}"


async def download_by_job(request: Request) -> Response:
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()  # before the job id is parsed, as GitLab authorizes first
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    svc = services(request)
    download = await svc.artifacts.download(access, job_id)
    return await serve_download(request, download, mode=svc.settings.download_mode)


async def keep(request: Request) -> Response:
    access = await project_access(request)
    await json_body(request)
    svc = services(request)
    shown = await svc.artifacts.keep(access, path_id(request.path_params["job_id"], kind="job_id"))
    return JSONResponse(svc.render.job(shown, access.project))


async def delete_job_artifacts(request: Request) -> Response:
    access = await project_access(request)
    await json_body(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    await services(request).artifacts.delete(access, job_id)
    return Response(status_code=204)


async def delete_project_artifacts(request: Request) -> Response:
    access = await project_access(request)
    await json_body(request)
    await services(request).artifacts.expire_project(access)
    return JSONResponse({"message": "202 Accepted"}, status_code=202)


DOWNLOAD_ERRORS = (400, 403, 404, 416, 503)
ARCHIVE = S.Operation(
    "A job's archive (artifacts.zip)",
    S.PUBLIC_OR_JOB,
    {**S.bytes_reply("application/octet-stream", "the archive"), 302: S.REDIRECT},
    params=(*S.RANGES, *S.SUDO),
    errors=DOWNLOAD_ERRORS,
)
KEEP = S.Operation(
    "Keep a job's artifacts from expiring",
    S.USER,
    {200: S.json_reply(S.ref("Job"))},
    params=S.SUDO,
    body=S.EMPTY_JSON,
    errors=(400, 403, 404, 413, 503),
)
DELETE_JOB = S.Operation(
    "Delete a job's artifacts (maintainers)",
    S.USER,
    {204: S.NO_CONTENT},
    params=S.SUDO,
    body=S.EMPTY_JSON,
    errors=(400, 403, 404, 413, 503),
)
DELETE_PROJECT = S.Operation(
    "Expire every unlocked artifact of a project now (maintainers)",
    S.USER,
    {202: S.json_reply(S.ref("Error"), 'accepted: {"message": "202 Accepted"}')},
    params=S.SUDO,
    body=S.EMPTY_JSON,
    errors=(400, 403, 404, 413, 503),
)

ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts", download_by_job, spec=ARCHIVE),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts/keep", keep, ["POST"], spec=KEEP),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts", delete_job_artifacts, ["DELETE"], spec=DELETE_JOB),
    route(f"{PREFIX}/artifacts", delete_project_artifacts, ["DELETE"], spec=DELETE_PROJECT),
]
