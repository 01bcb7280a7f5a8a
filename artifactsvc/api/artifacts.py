"""Project artifact endpoints: archive downloads (by job id, by ref), keep and delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc.api.context import json_body, project_access, services
from artifactsvc.api.downloads import serve_archive
from artifactsvc.api.params import boolean, path_id
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.artifacts import ArtifactService
from artifactsvc.auth import Access
from artifactsvc.errors import BadRequest, JobNotFound
from artifactsvc.models import Job

PREFIX = "/api/v4/projects/{id}"


def artifact_service(request: Request) -> ArtifactService:
    return services(request).artifacts


async def readable_job(request: Request, access: Access) -> Job:
    """A job of this project whose artifacts the caller may read (anonymous on public too)."""
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    job = await services(request).store.job(access.project.id, job_id)
    if job is None or job.kind != "build":
        raise JobNotFound()
    return job


async def download_by_job(request: Request) -> Response:
    access = await project_access(request, authenticated=False)
    job = await readable_job(request, access)
    artifacts = artifact_service(request)
    archive = await artifacts.archive(job)
    redirect = services(request).settings.download_mode == "redirect"
    return await serve_archive(request, artifacts.objects, archive, redirect=redirect)


async def ref_job(request: Request, access: Access) -> Job:
    access.require_read_artifacts()
    name = request.query_params.get("job")
    if not name:
        raise BadRequest("is missing", field="job")
    recent = boolean(request.query_params, "search_recent_successful_pipelines")
    ref = request.path_params["ref_name"]
    return await artifact_service(request).ref_job(access, ref, name, recent=recent)


async def download_by_ref_access(request: Request, access: Access) -> Response:
    """The ref's archive; routed by api/files.py, which owns the `jobs/artifacts/` prefix."""
    job = await ref_job(request, access)
    artifacts = artifact_service(request)
    archive = await artifacts.archive(job)
    redirect = services(request).settings.download_mode == "redirect"
    return await serve_archive(request, artifacts.objects, archive, redirect=redirect)


async def keep(request: Request) -> Response:
    access = await project_access(request)
    await json_body(request)
    svc = services(request)
    job = await svc.jobs.get(access, path_id(request.path_params["job_id"], kind="job_id"))
    access.require_developer()
    await artifact_service(request).keep(job)
    fresh = await svc.jobs.get(access, job.id)
    live = await svc.jobs.live_artifacts(fresh)
    return JSONResponse(svc.render.job(fresh, access.project, live))


async def delete_job_artifacts(request: Request) -> Response:
    access = await project_access(request)
    await json_body(request)
    job = await services(request).jobs.get(
        access, path_id(request.path_params["job_id"], kind="job_id")
    )
    access.require_maintainer()
    await artifact_service(request).delete_job_artifacts(job)
    return Response(status_code=204)


async def delete_project_artifacts(request: Request) -> Response:
    access = await project_access(request)
    await json_body(request)
    access.require_maintainer()
    await artifact_service(request).expire_project(access.project.id)
    return JSONResponse({"message": "202 Accepted"}, status_code=202)


# `jobs/artifacts/<ref>/download` is routed by api/files.py with the `raw` routes.
ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts", download_by_job),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts/keep", keep, ["POST"]),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts", delete_job_artifacts, ["DELETE"]),
    route(f"{PREFIX}/artifacts", delete_project_artifacts, ["DELETE"]),
]
