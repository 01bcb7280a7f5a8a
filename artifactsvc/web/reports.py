"""HTML reports out of an archive, served so that their scripts can never act as the user.

`/-/artifact-reports/<capability>/<path>` serves one file of a job's archive under the
capability in its path (web/capabilities.py) and never looks at the session cookie, so what
a report's script can reach is that folder of that archive, for an hour, and nothing else.

Without PAGES_URL the route answers on our own origin with `Content-Security-Policy: sandbox
allow-scripts` and no `allow-same-origin`: the report is a document of a unique, opaque
origin, so its scripts run but read no cookie of ours, and any request they make is
cross-origin (no credentials, no readable answer). With PAGES_URL (a separate origin, as
GitLab Pages) the route answers there only; our own origin refuses it (404), and that host
serves no page and no sign-in (web/routing.py), so no session can ever exist on it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from artifactsvc.api.context import services
from artifactsvc.api.files import serve_file
from artifactsvc.api.headers import content_disposition
from artifactsvc.errors import ArtifactsvcError
from artifactsvc.paths import validate_artifact_path
from artifactsvc.web import links
from artifactsvc.web.context import on_pages_origin, web

SANDBOX = "sandbox allow-scripts"
# On its own origin a report may do what a page does on GitLab Pages.
PAGES_SANDBOX = "sandbox allow-scripts allow-same-origin allow-forms allow-popups"


async def report_file(request: Request) -> Response:
    state = web(request)
    if state.pages_url is not None and not on_pages_origin(request):
        return PlainTextResponse("404 Not Found", status_code=404)
    grant = state.capabilities.read(request.path_params["capability"])
    if grant is None:
        return PlainTextResponse("404 Not Found (the link has expired)", status_code=404)
    svc = services(request)
    try:
        path = validate_artifact_path(request.path_params["path"])
        if not grant.covers(path):
            return PlainTextResponse("404 Not Found", status_code=404)
        access = await svc.auth.granted_access(grant.user_id, grant.project_id)
        member = await svc.files.file(access, grant.job_id, path)
    except ArtifactsvcError:
        # Whatever the reason (a file not there, a right lost since), the report learns
        # nothing more than that it is not there.
        return PlainTextResponse("404 Not Found", status_code=404)
    response = await serve_file(request, member, sniffed=False)
    attachment = content_disposition(member.name)
    response.headers["content-disposition"] = "inline" + attachment[len("attachment") :]
    response.headers["content-security-policy"] = (
        SANDBOX if state.pages_url is None else (PAGES_SANDBOX)
    )
    # The capability is in the URL: it must not leave in a Referer to wherever the report
    # links, nor stay in a shared cache.
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["cache-control"] = "private, max-age=300"
    return response


# A plain Starlette route (the path decoded once, as the router does): not an API route, so
# not in the OpenAPI document.
ROUTES = [Route(f"{links.REPORTS}/{{capability}}/{{path:path}}", report_file, methods=["GET"])]
