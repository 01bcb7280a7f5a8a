"""The web pages (GitLab's own paths): job, pipeline, artifact browser, file views, sign-in,
and HTML reports in a sandbox. Server-rendered HTML, no script; docs/web.md.

    __init__.py      the route table: `PAGES` (under `/<project>/-/`) and `routes()`
    routing.py       one route for every `/<project>/-/<page>`, dispatching through `PAGES`
    addressing.py    a web path's project and page (pure)
    links.py         every URL the pages build
    context.py       the viewer (from the session), project access, CSRF, rendering
    session.py       the signed session cookie and its CSRF token
    capabilities.py  a report's signed, short-lived grant
    errors.py        errors as pages; sign-in first for anonymous viewers
    jobs.py  artifacts.py  reports.py  signin.py   the pages
    log.py           a job's log: ANSI colours and collapsible sections (pure)
    assets.py        the one style sheet
    templates/  static/
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from artifactsvc.web import artifacts, assets, jobs, links, reports, signin
from artifactsvc.web.routing import Endpoint, ProjectPages, guarded, page

_JOB = r"jobs/(?P<job_id>\d{1,20})"

PAGES = [
    page(_JOB, jobs.job_page),
    page(f"{_JOB}/raw", jobs.raw_log),
    page(f"{_JOB}/artifacts/browse(?:/(?P<path>.+))?", artifacts.browse),
    page(f"{_JOB}/artifacts/file/(?P<path>.+)", artifacts.file_page),
    page(f"{_JOB}/artifacts/raw/(?P<path>.+)", artifacts.raw),
    page(f"{_JOB}/artifacts/download", artifacts.download),
    page(f"{_JOB}/artifacts/keep", artifacts.keep, ["POST"]),
    page(f"{_JOB}/artifacts/delete", artifacts.delete, ["POST"]),
    page(r"jobs/artifacts/(?P<rest>.+)", artifacts.by_ref),
    page(r"pipelines", jobs.pipelines_page),
    page(r"pipelines/(?P<pipeline_id>\d{1,20})", jobs.pipeline_page),
]


def _guard(endpoint: Endpoint) -> Endpoint:
    async def run(request: Request) -> Response:
        return await guarded(request, endpoint)

    return run


def routes() -> list[BaseRoute]:
    """The pages' routes, after the API's in `create_app`."""
    return [
        Route(links.SIGN_IN, _guard(signin.sign_in_page), methods=["GET"]),
        Route(links.SIGN_IN, _guard(signin.sign_in), methods=["POST"]),
        Route(links.SIGN_OUT, _guard(signin.sign_out), methods=["POST"]),
        Route(links.STYLESHEET, assets.stylesheet, methods=["GET"]),
        *reports.ROUTES,
        ProjectPages(PAGES),
    ]
