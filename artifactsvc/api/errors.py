"""The one table from error to HTTP status and GitLab's JSON body.

Domain errors (artifactsvc.errors) know nothing of HTTP; the few errors only the edge can
make (a malformed parameter, a body too large, a Range that does not fit) are defined here.
This module is the only place that turns either into a response, and the only one that
knows statuses, GitLab's messages and parameter names. Bodies mirror GitLab's, because
clients match on them: `{"message": "404 Project Not Found"}`,
`{"error": "scope does not have a valid value"}`.

    ApiError                  input the edge refuses before any service runs
    ├── BadRequest            a malformed parameter (`field` set) or body
    ├── PayloadTooLarge       a body over its limit
    ├── RangeNotSatisfiable   a Range header that does not fit the representation
    └── ClientGone            the client left before its response started (499, logged only)
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc import errors

log = logging.getLogger("artifactsvc.errors")


class ApiError(Exception):
    pass


class BadRequest(ApiError):
    """`field` set: GitLab's parameter-validation shape, `{"error": "<field> <message>"}`."""

    def __init__(self, message: str = "", *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(ApiError):
    pass


class MissingHeader(ApiError):
    """Grape's `error!('400 Missing header <name>', 400)`: that whole message."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class RangeNotSatisfiable(ApiError):
    def __init__(self, size: int) -> None:
        super().__init__(f"range not satisfiable for size {size}")
        self.size = size


class ClientGone(ApiError):
    """Nobody reads the answer; its status only shows in the log line and the metrics."""


# Looked up along the exception's MRO: the most specific class wins. A detail the error
# carries is appended to 400 and 403 messages ("400 Bad request - damaged zip archive: ...").
MESSAGES: dict[type[Exception], tuple[int, str]] = {
    errors.ProjectNotFound: (404, "404 Project Not Found"),
    errors.JobNotFound: (404, "404 Not found"),
    errors.PipelineNotFound: (404, "404 Not found"),
    errors.NoArchiveToList: (404, "404 Artifacts Not Found"),
    errors.FolderNotFound: (404, "404 Path Not Found"),
    errors.ArtifactNotFound: (404, "404 Not Found"),
    errors.TokenJobNotFound: (404, "404 Job Not Found"),
    errors.ObjectNotFound: (404, "404 Not Found"),
    errors.NotFound: (404, "404 Not Found"),
    errors.Unauthenticated: (401, "401 Unauthorized"),
    errors.InvalidToken: (401, "401 Unauthorized"),
    errors.SudoNotAllowed: (403, "403 Forbidden - Must be admin to use sudo"),
    errors.JobNotRetryable: (403, "403 Forbidden - Job is not retryable"),
    errors.JobNotErasable: (403, "403 Forbidden - Job is not erasable!"),
    # lib/api/ci/helpers/runner.rb, authenticate_job!
    errors.JobNotProcessing: (403, "403 Forbidden - Job is not processing on runner"),
    errors.JobErased: (403, "403 Forbidden - Job has been erased!"),
    errors.Forbidden: (403, "403 Forbidden"),
    errors.UnplayableJob: (400, "400 Bad request - Unplayable Job"),
    errors.InvalidInput: (400, "400 Bad request"),
    BadRequest: (400, "400 Bad request"),
    errors.Conflict: (409, "409 Conflict"),
    errors.ArtifactTooLarge: (413, "413 Request Entity Too Large"),
    PayloadTooLarge: (413, "413 Request Entity Too Large"),
    errors.MemberRangeOutside: (416, "416 Range Not Satisfiable"),
    ClientGone: (499, "499 Client Closed Request"),
    RangeNotSatisfiable: (416, "416 Range Not Satisfiable"),
    errors.StorageTimeout: (503, "503 Service Unavailable"),
    errors.StorageUnavailable: (503, "503 Service Unavailable"),
    errors.MetadataUnavailable: (503, "503 Service Unavailable"),
    errors.IndexWorkerLost: (503, "503 Service Unavailable"),
    errors.ObjectChanged: (503, "503 Service Unavailable"),
    errors.StorageError: (502, "502 Bad Gateway"),
    # A damaged member is the same on every read (pinned to the archive's ETag): a 400 that
    # says what is wrong, as for encrypted members, rather than a 500 retried for ever.
    errors.DamagedArchive: (400, "400 Bad request"),
    errors.CorruptArchive: (500, "500 Internal Server Error"),
}

# Domain errors GitLab answers with `render_api_error!(message, 400)`: the message is the
# whole body, `{"message": "<text>"}` (None: the error's own text, GitLab's reason).
RENDERED: dict[type[Exception], str | None] = {
    # Ci::JobArtifacts::CreateService#persist_artifact, on the (job, type) unique index
    errors.AlreadyUploaded: "another artifact of the same type already exists",
    # Ci::JobArtifact#validate_file_format!, raised by save! as ActiveRecord::RecordInvalid
    errors.ArtifactFormatMismatch: (
        "Validation failed: Invalid file format with specified file type"
    ),
    errors.InvalidDotenv: None,  # Ci::ParseDotenvArtifactService's messages
}

# Domain errors GitLab reports as a parameter that failed validation: `{"error": "<p> <text>"}`.
PARAMETERS: dict[type[Exception], tuple[str, str]] = {
    # Grape's `values:` validation of the upload's parameters (lib/api/ci/runner.rb)
    errors.UnknownArtifactType: ("artifact_type", "does not have a valid value"),
    errors.UnknownArtifactFormat: ("artifact_format", "does not have a valid value"),
    errors.UnknownAccessibility: ("accessibility", "does not have a valid value"),
    errors.MissingJobName: ("job", "is missing"),
    errors.ListingTooLarge: ("page", "is too large; list a subfolder instead"),
}


SCOPE_DESCRIPTION = "The request requires higher privileges than provided by the access token."


def status_and_body(error: Exception) -> tuple[int, dict[str, str]]:
    if isinstance(error, errors.InsufficientScope):
        # Rack::OAuth2's Bearer::Forbidden, as GitLab's APIGuard answers it.
        body = {"error": "insufficient_scope", "error_description": SCOPE_DESCRIPTION}
        return 403, {**body, "scope": error.scope}
    if isinstance(error, errors.JobTokenOutOfScope):
        # lib/api/helpers.rb handle_job_token_failure!
        return 403, {
            "message": "403 Forbidden - Authentication by CI/CD job token not allowed from"
            f" {error.source_path} to {error.target_path}."
        }
    if isinstance(error, MissingHeader):
        return 400, {"message": f"400 Missing header {error.name}"}
    if isinstance(error, errors.SudoUserNotFound):
        return 404, {"message": f"404 User with ID or username '{error.identifier}' Not Found"}
    for cls in type(error).__mro__:
        if cls in RENDERED:
            return 400, {"message": RENDERED[cls] or str(error)}
        if cls in PARAMETERS:
            field, text = PARAMETERS[cls]
            return 400, {"error": f"{field} {text}"}
        if cls in MESSAGES:
            status, message = MESSAGES[cls]
            break
    else:
        return 500, {"message": "500 Internal Server Error"}
    detail = str(error)
    if isinstance(error, BadRequest) and error.field is not None:
        return status, {"error": f"{error.field} {detail}"}
    if detail and status in (400, 403):
        message = f"{message} - {detail}"
    return status, {"message": message}


async def domain_error(request: Request, exc: Exception) -> Response:
    status, body = status_and_body(exc)
    if status >= 500:
        log.error("%s %s failed: %r", request.method, request.url.path, exc, exc_info=exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.InsufficientScope):
        headers["WWW-Authenticate"] = (
            f'Bearer realm="", error="insufficient_scope",'
            f' error_description="{SCOPE_DESCRIPTION}", scope="{exc.scope}"'
        )
    if isinstance(exc, errors.JobNotProcessing):
        headers["Job-Status"] = exc.status  # job_forbidden!: the runner stops the job on it
    if isinstance(exc, RangeNotSatisfiable | errors.MemberRangeOutside):
        headers["Content-Range"] = f"bytes */{exc.size}"
        headers["Range"] = f"0-{exc.size}"
    return JSONResponse(body, status_code=status, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return JSONResponse({"error": "404 Not Found"}, status_code=404)
    if exc.status_code == 405:
        return JSONResponse(
            {"error": "405 Not Allowed"}, status_code=405, headers=dict(exc.headers or {})
        )
    return JSONResponse(
        {"message": f"{exc.status_code} {exc.detail}"},
        status_code=exc.status_code,
        headers=dict(exc.headers or {}),
    )
