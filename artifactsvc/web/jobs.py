"""The job page (its log, its artifacts), its raw log, the pipeline page and the project's
pipelines: GitLab's `/-/jobs/:id`, `/-/jobs/:id/raw`, `/-/pipelines/:id`, `/-/pipelines`."""

from __future__ import annotations

from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from artifactsvc.api.context import services
from artifactsvc.api.params import path_id
from artifactsvc.models import Job, JobView, PipelineQuery, utcnow
from artifactsvc.web.context import project_access, render
from artifactsvc.web.log import render_log

# The end of a long log is what matters (where it failed); the rest is one link away, raw.
# GitLab's job page shows the last 500 KiB too.
LOG_SHOWN_BYTES = 500 << 10
PIPELINES_SHOWN = 20


def duration(start: datetime | None, end: datetime | None) -> str:
    """GitLab's job duration: whole seconds from start to finish (or to now, if running)."""
    if start is None:
        return ""
    seconds = int(((end or utcnow()) - start).total_seconds())
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value is not None else "—"


def _job_row(view: JobView) -> dict[str, object]:
    job: Job = view.job
    return {
        "job": job,
        "duration": duration(job.started_at, job.finished_at),
        "downstream": view.downstream,
    }


async def job_page(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    detail = await services(request).jobs.detail(access, job_id, trace_limit=LOG_SHOWN_BYTES)
    text = detail.trace.decode("utf-8", errors="replace")
    if detail.trace_size > len(detail.trace):
        text = text.partition("\n")[2]  # the cut's first line is a piece of a line
    # Colouring a megabyte of log is CPU work: off the event loop.
    log = await run_in_threadpool(render_log, text)
    job = detail.view.job
    archive = next((a for a in detail.view.live if a.file_type == "archive"), None)
    return await render(
        request,
        "job.html",
        {
            "project": access.project,
            "job": job,
            "pipeline": job.pipeline,
            "artifacts": detail.view.live,
            "archive": archive,
            # Buttons only for who may use them; the service checks again on the post.
            "may_keep": access.is_developer() and not access.via_job_token,
            "may_delete": access.is_maintainer() and not access.via_job_token,
            "log": log,
            "log_cut": detail.trace_size - len(detail.trace),
            "duration": duration(job.started_at, job.finished_at),
            "when": when,
        },
    )


async def raw_log(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    log = await services(request).jobs.trace(access, job_id)
    # Our origin serves it: plain text, never sniffed into HTML (the edge adds nosniff).
    return StreamingResponse(
        log.chunks,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Length": str(log.size)},
    )


async def pipeline_page(request: Request) -> Response:
    access = await project_access(request)
    pipeline_id = path_id(request.path_params["pipeline_id"], kind="pipeline_id")
    found = await services(request).jobs.pipeline_jobs(access, pipeline_id)
    stages: dict[str, list[dict[str, object]]] = {}
    for view in found.jobs:  # stages in the order their first job was created
        stages.setdefault(view.job.stage, []).append(_job_row(view))
    return await render(
        request,
        "pipeline.html",
        {
            "project": access.project,
            "pipeline": found.pipeline,
            "stages": stages,
            "when": when,
            "duration": duration(found.pipeline.started_at, found.pipeline.finished_at),
        },
    )


async def pipelines_page(request: Request) -> Response:
    access = await project_access(request)
    found, total = await services(request).pipelines.pipelines(
        access, PipelineQuery(project_id=access.project.id), None, 0, PIPELINES_SHOWN
    )
    return await render(
        request,
        "pipelines.html",
        {"project": access.project, "pipelines": found, "total": total, "when": when},
    )
