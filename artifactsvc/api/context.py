"""Per-request plumbing: the app's services, the caller's credentials and project access."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.types import Message

from artifactsvc.access import Access, Principal
from artifactsvc.api.errors import BadRequest, PayloadTooLarge
from artifactsvc.api.render import Renderer
from artifactsvc.artifacts import ArtifactService
from artifactsvc.auth import AuthService, Credentials, require_authenticated
from artifactsvc.files import FileService
from artifactsvc.health import HealthService
from artifactsvc.jobs import JobService
from artifactsvc.pipelines import PipelineService
from artifactsvc.settings import Settings
from artifactsvc.uploads import UploadService
from artifactsvc.usage import UsageService

MAX_JSON_BODY = 1024 * 1024


@dataclass
class Services:
    """The services `create_app` builds, as handlers reach them (`request.app.state`).
    No store here: handlers go through a service for every read and write."""

    settings: Settings
    auth: AuthService
    jobs: JobService
    pipelines: PipelineService
    artifacts: ArtifactService
    uploads: UploadService
    files: FileService
    health: HealthService
    render: Renderer
    usage: UsageService


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def credentials(request: Request) -> Credentials:
    headers = request.headers
    query = request.query_params
    user_token = headers.get("private-token") or query.get("private_token")
    if not user_token:
        authorization = headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            user_token = value.strip()
    job_token = headers.get("job-token") or query.get("job_token")
    sudo = headers.get("sudo") or query.get("sudo")
    return Credentials(
        user_token=user_token or None, job_token=job_token or None, sudo=sudo or None
    )


def runner_token(request: Request) -> str | None:
    """Where runner endpoints find a job token before reading a body: the JOB-TOKEN header
    or the query (`token`, `job_token`). A `token` in the body is each route's own affair
    (api/runner.py), read only within that route's bounds."""
    return (
        request.headers.get("job-token")
        or request.query_params.get("token")
        or request.query_params.get("job_token")
        or None
    )


async def principal(request: Request, *, job_token: bool = False) -> Principal:
    """The caller. `job_token`: this route accepts a CI job token (GitLab's route setting
    `job_token_allowed`); on any other route a job token is ignored, as GitLab ignores it."""
    key = f"artifactsvc.principal.{job_token}"
    cached: Principal | None = request.scope.get(key)
    if cached is None:
        cached = await services(request).auth.authenticate(
            credentials(request),
            job_token_allowed=job_token,
            write=request.method not in ("GET", "HEAD"),
        )
        request.scope[key] = cached
    return cached


async def project_access(
    request: Request, *, authenticated: bool = True, job_token: bool = False
) -> Access:
    """Authenticate (401 first, as GitLab's `authenticate!`), then find the project (404)."""
    caller = await principal(request, job_token=job_token)
    if authenticated:
        require_authenticated(caller)
    return await services(request).auth.project_access(caller, request.path_params["id"])


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, in memory, if it is at most `limit` bytes; PayloadTooLarge as soon as
    it is known to be larger (from Content-Length, before reading, or while reading)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge()
    return bytes(body)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest() from None
    if not isinstance(parsed, dict):
        raise BadRequest()
    return parsed


async def json_body(request: Request) -> dict[str, Any]:
    """Clients send `{}` (or nothing) on GET/POST/DELETE; anything but an object is a 400."""
    content_type = request.headers.get("content-type", "")
    body = await read_body(request, MAX_JSON_BODY)
    if not body.strip() or "json" not in content_type:
        return {}
    return _json_object(body)


async def small_form(request: Request, limit: int) -> dict[str, str]:
    """A small body's parameters as text, as Grape reads them from JSON, a urlencoded form or
    a multipart form. At most `limit` bytes are read, into memory: a multipart body is parsed
    from those bytes, never spooled to a temporary file, and may not carry a file."""
    content_type = request.headers.get("content-type", "")
    body = await read_body(request, limit)
    if not body.strip():
        return {}
    if "json" in content_type:
        return {key: str(value) for key, value in _json_object(body).items()}
    if "form" not in content_type:
        return {}

    async def replay() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    # Starlette's parser over the bytes already read; files refused (max_files=0), every
    # part at most the body's size. Its refusals are 400s.
    form = await Request(request.scope, replay).form(
        max_files=0, max_fields=1000, max_part_size=limit
    )
    return {key: value for key, value in form.items() if isinstance(value, str)}
