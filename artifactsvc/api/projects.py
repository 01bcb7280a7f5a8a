"""Projects, the current user and the version."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from artifactsvc import __version__
from artifactsvc.api import spec as S
from artifactsvc.api.context import principal, project_access, services
from artifactsvc.api.params import boolean
from artifactsvc.api.routing import RawRoute, route
from artifactsvc.auth import require_authenticated
from artifactsvc.errors import Forbidden

PREFIX = "/api/v4"


async def get_project(request: Request) -> Response:
    # Parsed before the lookup, as Grape validates params before the endpoint runs.
    with_statistics = boolean(request.query_params, "statistics")
    access = await project_access(request, authenticated=False)
    body = services(request).render.project(access.project)
    if with_statistics:
        # GitLab's entity: the key only for callers allowed `read_statistics`, never null.
        statistics = await services(request).usage.project_statistics(access)
        if statistics is not None:
            body["statistics"] = statistics.as_gitlab()
    return JSONResponse(body)


async def current_user(request: Request) -> Response:
    caller = await principal(request)
    require_authenticated(caller)
    if caller.user is None:
        raise Forbidden()
    return JSONResponse(services(request).render.user(caller.user, full=True))


async def version(request: Request) -> Response:
    await principal(request)  # open to anonymous callers, but a bad token is still a 401
    return JSONResponse({"version": __version__, "revision": "artifactsvc", "enterprise": False})


ROUTES: list[RawRoute] = [
    route(
        f"{PREFIX}/projects/{{id}}",
        get_project,
        spec=S.Operation(
            "One project; with `statistics=true`, its storage statistics for reporters and up",
            S.PUBLIC,
            {200: S.json_reply(S.ref("Project"))},
            params=(
                S.boolean("statistics", "include `statistics` (reporters and up)"),
                *S.SUDO,
            ),
            # 400: a `statistics` Grape would not take as a Boolean.
            errors=(400, 403, 404, 503),
        ),
    ),
    route(
        f"{PREFIX}/user",
        current_user,
        spec=S.Operation(
            "The caller",
            S.USER,
            {200: S.json_reply(S.ref("CurrentUser"))},
            params=S.SUDO,
            errors=(403, 404, 503),
        ),
    ),
    route(
        f"{PREFIX}/version",
        version,
        spec=S.Operation(
            "The version (a bad token is still a 401)",
            S.PUBLIC,
            {200: S.json_reply(S.ref("Version"))},
            params=S.SUDO,
            errors=(403, 404, 503),
        ),
    ),
]
