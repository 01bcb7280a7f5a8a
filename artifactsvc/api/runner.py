"""Runner-facing endpoints: artifact upload and download, trace append, job state updates.

As GitLab's lib/api/ci/runner.rb; docs/gitlab-conformance.md says which parts of it, and
where gitlab-runner's own calls (tests/support/runner.py) decided a detail.
"""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc.api import spec as S
from artifactsvc.api.context import runner_token, services, small_form
from artifactsvc.api.downloads import serve_download
from artifactsvc.api.errors import BadRequest, MissingHeader, PayloadTooLarge
from artifactsvc.api.multipart import FormLimits, StreamingForm
from artifactsvc.api.params import boolean, path_id, ruby_to_i
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.artifact_types import (
    ACCESSIBILITIES,
    DEFAULT_FORMAT,
    FILE_TYPES,
    FORMATS,
    accessibility_of,
)
from artifactsvc.durations import parse_duration
from artifactsvc.errors import TraceOffsetMismatch
from artifactsvc.jobs import FINISHED
from artifactsvc.uploads import Upload

PREFIX = "/api/v4/jobs/{id}"
MAX_TRACE_PATCH = 8 * 1024 * 1024
# Gitlab::Ci::Trace::UPDATE_FREQUENCY_DEFAULT. GitLab answers 3 only while someone watches the
# log in its web page (`being_watched!`, set by the UI's trace poll, not by the API); this
# service has no such page, so the runner is always told GitLab's default.
TRACE_UPDATE_INTERVAL = 60


def _upload_params(values: dict[str, str], default_expire_in: int | None) -> Upload:
    expire_raw = values.get("expire_in")
    expire_in = default_expire_in
    if expire_raw:
        try:
            expire_in = parse_duration(expire_raw)
        except ValueError:
            raise BadRequest("is invalid", field="expire_in") from None
    # Grape's defaults: `archive` and `zip`, whatever the type (a report sent without its
    # format is refused as a mismatch, as GitLab refuses it).
    return Upload(
        file_type=values.get("artifact_type") or "archive",
        file_format=values.get("artifact_format") or DEFAULT_FORMAT,
        expire_in=expire_in,
        accessibility=accessibility_of(values.get("accessibility")),
    )


async def upload_artifacts(request: Request) -> Response:
    svc = services(request)
    job_id = path_id(request.path_params["id"], kind="job_id")
    length = request.headers.get("content-length")
    settings = svc.settings
    form = StreamingForm(
        request, FormLimits(settings.upload_form_max_bytes, settings.upload_form_max_parts)
    )
    token = runner_token(request)
    if token is not None:
        # gitlab-runner sends its Job-Token header: authenticated before a byte of the body
        # is read.
        job = await svc.auth.runner_job(job_id, token)
        await form.until_file()
    else:
        # Only a `token` field can authenticate: the fields before the file are read (bounded
        # by FormLimits, in memory), the file's first bytes wait there, nothing is stored.
        await form.until_file()
        job = await svc.auth.runner_job(job_id, form.fields.get("token"))
    limit = settings.max_artifact_size
    # What surrounds the file is at most UPLOAD_FORM_MAX_BYTES (StreamingForm enforces it).
    slack = settings.upload_form_max_bytes
    if length is not None and length.isdigit() and int(length) > limit + slack:
        raise PayloadTooLarge()  # refused before a byte is stored
    query = dict(request.query_params)
    _upload_params({**query, **form.fields}, svc.settings.default_expire_in)  # fail fast

    def describe() -> Upload:
        # Fields may follow the file part; by now the whole body has been read.
        params = _upload_params({**query, **form.fields}, svc.settings.default_expire_in)
        return dataclasses.replace(params, filename=form.filename)

    # Without a type before the file, a field after it may still name one (curl -F order).
    type_known = "artifact_type" in query or "artifact_type" in form.fields
    artifact = await svc.uploads.upload(job, describe, form.file_chunks(), type_known=type_known)
    return JSONResponse(
        {
            "file_type": artifact.file_type,
            "size": artifact.size,
            "filename": artifact.filename,
            "file_format": artifact.file_format,
        },
        status_code=201,
    )


async def download_artifacts(request: Request) -> Response:
    """A running job fetching a dependency's archive: `:id` is the dependency."""
    svc = services(request)
    job_id = path_id(request.path_params["id"], kind="job_id")
    # Grape validates `direct_download` (a Boolean) before the endpoint runs, whatever the
    # mode: a value that is no boolean is a 400 even where it would not be used.
    direct = boolean(request.query_params, "direct_download")
    caller = await svc.auth.running_job_of(runner_token(request))
    download = await svc.artifacts.runner_download(caller, job_id)
    # Runners send direct_download=true on every first try; GitLab redirects only where
    # object storage serves downloads itself (`direct_download_enabled?`, i.e. not proxied).
    # Accel mode is not a redirect: nginx sends the bytes on this same response.
    mode = svc.settings.download_mode
    if mode == "redirect" and not direct:
        mode = "proxy"
    return await serve_download(request, download, mode=mode)


async def patch_trace(request: Request) -> Response:
    svc = services(request)
    job_id = path_id(request.path_params["id"], kind="job_id")
    job = await svc.auth.runner_job(job_id, runner_token(request))
    # GitLab refuses a piece that does not say where it goes, before reading it (runner.rb).
    content_range = request.headers.get("content-range")
    if content_range is None:
        raise MissingHeader("Content-Range")
    # AppendBuildTraceService: `content_range.split('-')[0].to_i`, so a start that is no
    # number is 0 (a piece for an empty log is appended, any other gets 416).
    start = ruby_to_i(content_range.split("-", 1)[0])
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TRACE_PATCH:
            raise PayloadTooLarge()
    try:
        size = await svc.jobs.append_trace(job, start, bytes(body))
    except TraceOffsetMismatch as error:
        return Response(
            status_code=416, headers={"Range": f"0-{error.size}", "Job-Status": job.status}
        )
    return Response(
        status_code=202,
        headers={
            "Range": f"0-{size}",
            "Job-Status": job.status,
            "X-GitLab-Trace-Update-Interval": str(TRACE_UPDATE_INTERVAL),
        },
    )


async def update_job(request: Request) -> Response:
    """gitlab-runner's UpdateJob sends its token in the JSON body only (network/gitlab.go):
    a token in the header or query is checked before the body is read; without one, at most
    JOB_UPDATE_MAX_BYTES are read, into memory, and its `token` field decides."""
    svc = services(request)
    job_id = path_id(request.path_params["id"], kind="job_id")
    header_token = runner_token(request)
    job = None
    if header_token is not None:
        job = await svc.auth.runner_job(job_id, header_token)
    fields = await small_form(request, svc.settings.job_update_max_bytes)
    body_token = fields.get("token")
    if job is None or (body_token and body_token != header_token):
        # GitLab reads params[:token] before the header: a body token has the last word.
        job = await svc.auth.runner_job(job_id, body_token)
    state = fields.get("state")
    status = job.status
    if state is not None and state != "running":
        if state not in FINISHED:
            raise BadRequest("does not have a valid value", field="state")
        status = await svc.jobs.finish(job, state, fields.get("failure_reason"))
    # GitLab tells the runner the job's status after the update, as on a trace append.
    return JSONResponse({"id": job.id, "status": status}, headers={"Job-Status": status})


_JOB_ID = {"id": S.ROW_ID}
_UPLOAD_FIELDS: dict[str, S.Schema] = {
    "artifact_type": S.enum(tuple(FILE_TYPES)),
    "artifact_format": S.enum(FORMATS),
    "expire_in": {"type": "string", "description": "ChronicDuration: 1 week, 3 mins 4 sec, never"},
    "accessibility": S.enum((*ACCESSIBILITIES, "all", "developer")),
}
_FORM_FIELDS = {name: {"anyOf": [schema, S.EMPTY]} for name, schema in _UPLOAD_FIELDS.items()}
UPLOAD = S.Operation(
    "Upload a job's artifact (multipart: `file`, and its fields before or after it)",
    S.RUNNER,
    {201: S.json_reply(S.ref("UploadedArtifact"), "stored (or the same bytes again)")},
    params=tuple(S.query(name, schema) for name, schema in _UPLOAD_FIELDS.items()),
    description="A field may come as a query parameter too; an empty one takes the default.",
    body=S.Body(
        {
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {**S.BINARY, "description": "its file name names the archive"},
                    **_FORM_FIELDS,
                    "token": {"type": "string", "description": "the job's token"},
                },
                "required": ["file"],
            }
        },
        required=True,
        encoding={"multipart/form-data": {"file": {"contentType": "application/octet-stream"}}},
    ),
    errors=(400, 403, 404, 413, 503),
    path_params=_JOB_ID,
)
RUNNER_DOWNLOAD = S.Operation(
    "A dependency's archive, for the running job whose token is given",
    S.RUNNER,
    {**S.bytes_reply("application/octet-stream", "the archive"), 302: S.REDIRECT},
    params=(S.boolean("direct_download", "302 to storage where it serves downloads"), *S.RANGES),
    errors=(400, 403, 404, 416, 503),
    path_params=_JOB_ID,
)
TRACE = S.Operation(
    "Append to a running job's log at Content-Range's start",
    S.RUNNER,
    {
        202: S.Reply("appended", headers=("Range", "Job-Status")),
        416: S.Reply("START is not the log's size", headers=("Range",)),
    },
    params=(
        S.Param(
            "Content-Range",
            S.TEXT,
            where="header",
            required=True,
            description="START-END: where these bytes go (without it: 400, as GitLab)",
        ),
        S.query("debug_trace", description="sent by gitlab-runner; ignored"),
    ),
    body=S.Body({"text/plain": S.TEXT, "application/octet-stream": S.BINARY}),
    errors=(400, 403, 404, 413, 503),
    path_params=_JOB_ID,
)
_STATE = {
    "type": "object",
    "properties": {
        # Any JSON value is read as its text (GitLab's Grape would 400 a non-string).
        "token": {"description": "the job's token"},
        "state": S.enum(("running", *sorted(FINISHED))),
        "failure_reason": {"description": "why a failed job failed"},
    },
}
UPDATE = S.Operation(
    "A runner reports a job's state",
    S.RUNNER,
    {200: S.json_reply(S.ref("JobState"), headers=("Job-Status",))},
    body=S.Body({"application/json": _STATE, "application/x-www-form-urlencoded": _STATE}),
    errors=(400, 403, 404, 413, 503),
    path_params=_JOB_ID,
)

ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/artifacts", upload_artifacts, ["POST"], spec=UPLOAD),
    route(f"{PREFIX}/artifacts", download_artifacts, spec=RUNNER_DOWNLOAD),
    route(f"{PREFIX}/trace", patch_trace, ["PATCH"], spec=TRACE),
    route(PREFIX, update_job, ["PUT"], spec=UPDATE),
]
