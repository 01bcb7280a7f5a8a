"""Per-request plumbing: the app's services, the caller's credentials and project access."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from artifactsvc.api.render import Renderer
from artifactsvc.artifacts import ArtifactService
from artifactsvc.auth import Access, Credentials, Principal, authenticate, require_authenticated
from artifactsvc.auth import resolve_access as _resolve_access
from artifactsvc.errors import BadRequest, PayloadTooLarge
from artifactsvc.extract import ArchiveFiles
from artifactsvc.jobs import JobService
from artifactsvc.metadata import MetadataStore
from artifactsvc.objects import ObjectStore
from artifactsvc.settings import Settings

MAX_JSON_BODY = 1024 * 1024


@dataclass
class Services:
    """Everything `create_app` builds; handlers reach it through `request.app.state`."""

    settings: Settings
    store: MetadataStore
    objects: ObjectStore
    jobs: JobService
    artifacts: ArtifactService
    files: ArchiveFiles
    render: Renderer


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
    return Credentials(user_token=user_token or None, job_token=job_token or None)


async def principal(request: Request) -> Principal:
    cached: Principal | None = request.scope.get("artifactsvc.principal")
    if cached is None:
        cached = await authenticate(services(request).store, credentials(request))
        request.scope["artifactsvc.principal"] = cached
    return cached


async def project_access(request: Request, *, authenticated: bool = True) -> Access:
    """Authenticate (401 first, as GitLab's `authenticate!`), then find the project (404)."""
    caller = await principal(request)
    if authenticated:
        require_authenticated(caller)
    return await _resolve_access(services(request).store, caller, request.path_params["id"])


async def json_body(request: Request) -> dict[str, Any]:
    """Clients send `{}` (or nothing) on GET/POST/DELETE; anything but an object is a 400."""
    content_type = request.headers.get("content-type", "")
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_JSON_BODY:
        raise PayloadTooLarge()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BODY:
            raise PayloadTooLarge()
    if not body.strip() or "json" not in content_type:
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest() from None
    if not isinstance(parsed, dict):
        raise BadRequest()
    return parsed
