"""The one table from domain error to HTTP status and GitLab's JSON body.

Domain errors (artifactsvc.errors) know nothing of HTTP; this module is the only place that
turns them into responses. Bodies mirror GitLab's, because clients match on them:
`{"message": "404 Project Not Found"}`, `{"error": "scope does not have a valid value"}`.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc import errors

log = logging.getLogger("artifactsvc.errors")

# Looked up along the exception's MRO: the most specific class wins.
TABLE: dict[type[errors.ArtifactsvcError], tuple[int, str]] = {
    errors.ProjectNotFound: (404, "404 Project Not Found"),
    errors.JobNotFound: (404, "404 Not found"),
    errors.PipelineNotFound: (404, "404 Not found"),
    errors.ArtifactNotFound: (404, "404 Not Found"),
    errors.ObjectNotFound: (404, "404 Not Found"),
    errors.NotFound: (404, "404 Not Found"),
    errors.Unauthenticated: (401, "401 Unauthorized"),
    errors.InvalidToken: (401, "401 Unauthorized"),
    errors.Forbidden: (403, "403 Forbidden"),
    errors.BadRequest: (400, "400 Bad request"),
    errors.Conflict: (409, "409 Conflict"),
    errors.PayloadTooLarge: (413, "413 Request Entity Too Large"),
    errors.RangeNotSatisfiable: (416, "416 Range Not Satisfiable"),
    errors.StorageUnavailable: (503, "503 Service Unavailable"),
    errors.MetadataUnavailable: (503, "503 Service Unavailable"),
    errors.ObjectChanged: (503, "503 Service Unavailable"),
    errors.StorageError: (502, "502 Bad Gateway"),
    errors.CorruptArchive: (500, "500 Internal Server Error"),
}


def status_and_body(error: errors.ArtifactsvcError) -> tuple[int, dict[str, str]]:
    for cls in type(error).__mro__:
        if cls in TABLE:
            status, message = TABLE[cls]
            break
    else:
        return 500, {"message": "500 Internal Server Error"}
    detail = str(error)
    if isinstance(error, errors.BadRequest) and error.field is not None:
        return status, {"error": f"{error.field} {detail}"}
    if detail and status in (400, 403):
        message = f"{message} - {detail}"
    return status, {"message": message}


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, errors.ArtifactsvcError)
    status, body = status_and_body(exc)
    if status >= 500:
        log.error("%s %s failed: %r", request.method, request.url.path, exc, exc_info=exc)
    headers: dict[str, str] = {}
    if isinstance(exc, errors.RangeNotSatisfiable):
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


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"message": "500 Internal Server Error"}, status_code=500)
