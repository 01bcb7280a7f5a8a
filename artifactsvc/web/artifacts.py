"""A job's artifacts on the web: browse (by job, and by ref as GitLab's `latest_succeeded`
redirect), a file's page, its raw bytes, the archive (or one folder of it) and keep/delete.

Reads go through the same services, with the same permission checks, as the API's routes:
`FileService.gitlab_tree` (the listing the API's `artifacts/tree` serves), `FileService.file`,
`ArtifactService.download`, `keep` and `delete`.
"""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from artifactsvc.api.context import services
from artifactsvc.api.disconnect import unless_disconnected
from artifactsvc.api.downloads import primed, serve_download
from artifactsvc.api.files import serve_file
from artifactsvc.api.headers import content_disposition
from artifactsvc.api.mime import by_extension
from artifactsvc.api.params import path_id
from artifactsvc.api.routing import decode_segment
from artifactsvc.errors import ArtifactNotFound, InvalidInput
from artifactsvc.paths import basename, validate_artifact_path, validate_directory
from artifactsvc.web import links
from artifactsvc.web.capabilities import Capability
from artifactsvc.web.context import project_access, render, require_csrf, viewer, web

PER_PAGE = 100
FILE_SHOWN_BYTES = 1 << 20  # a file's page shows at most this much of it; raw has the rest
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp", ".ico", ".avif")
REPORTS = (".html", ".htm")
_INLINE = ("image/", "application/pdf", "text/plain")
_BY_REF_ACTIONS = ("browse", "file", "raw", "download")


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1") or "1"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 10_000:
        raise InvalidInput("page is invalid")
    return int(raw)


def _optional_path(request: Request) -> str:
    raw = request.path_params.get("path")
    return validate_directory(decode_segment(raw)) if raw else ""


def _file_path(request: Request) -> str:
    return validate_artifact_path(decode_segment(request.path_params["path"]))


def _crumbs(folder: str) -> list[tuple[str, str]]:
    """(name, folder) for each folder above and including `folder`."""
    parts = folder.split("/") if folder else []
    return [(part, "/".join(parts[: index + 1])) for index, part in enumerate(parts)]


def _kind(path: str) -> str:
    lowered = path.lower()
    if lowered.endswith(IMAGES):
        return "image"
    if lowered.endswith(".pdf"):
        return "pdf"
    return "text"


async def browse(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    folder = _optional_path(request)
    number = _page_number(request)
    found = await unless_disconnected(
        request,
        services(request).files.gitlab_tree(
            access,
            job_id,
            folder,
            recursive=False,
            offset=(number - 1) * PER_PAGE,
            limit=PER_PAGE,
        ),
    )
    pages = max(1, math.ceil(found.total / PER_PAGE))
    entries = [
        {
            "name": basename(item.path),
            "path": item.path,
            "folder": item.kind == "directory",
            "symlink": item.kind == "symlink",
            "size": item.entry.uncompressed_size
            if item.entry and item.kind != "directory"
            else None,
            "mode": f"{item.entry.mode & 0o777:06o}" if item.entry else "",
        }
        for item in found.entries
    ]
    return await render(
        request,
        "browse.html",
        {
            "project": access.project,
            "job_id": job_id,
            "folder": folder,
            "crumbs": _crumbs(folder),
            "entries": entries,
            "page": number,
            "pages": pages,
            "total": found.total,
        },
    )


def by_ref_candidates(rest: str) -> list[tuple[str, str]]:
    """Every reading of `<ref>/<action>[/<path>]` as (ref, raw `<action>[/<path>]`): a ref
    may hold `/`, so each `/browse`, `/file/`, `/raw/`, `/download` is a possible split."""
    found: list[tuple[str, str]] = []
    for at in range(1, len(rest)):
        if rest[at] != "/":
            continue
        tail = rest[at + 1 :]
        action = tail.split("/", 1)[0]
        if action in _BY_REF_ACTIONS and (tail == action or action in ("browse", "file", "raw")):
            found.append((decode_segment(rest[:at]), tail))
    return found


async def by_ref(request: Request) -> Response:
    """`/-/jobs/artifacts/<ref>/browse[/<dir>]?job=<name>` (and file, raw, download): the
    newest successful job of that name on the ref, then a redirect to its job's path."""
    access = await project_access(request)
    name = request.query_params.get("job")
    artifacts = services(request).artifacts
    for ref, tail in by_ref_candidates(request.path_params["rest"]):
        try:
            job = await artifacts.ref_job(access, ref, name, recent=False)
        except ArtifactNotFound:
            continue
        target = f"{links.job(access.project.path_with_namespace, job.id)}/artifacts/{tail}"
        return RedirectResponse(target, status_code=302)
    raise ArtifactNotFound()


async def file_page(request: Request) -> Response:
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    path = _file_path(request)
    member = await services(request).files.file(access, job_id, path)
    kind = _kind(path)
    lines: list[str] = []
    cut = False
    if kind == "text":
        head = await member.head(FILE_SHOWN_BYTES)
        if b"\0" in head[:8192]:
            kind = "binary"
        else:
            cut = member.size > len(head)
            lines = head.decode("utf-8", errors="replace").splitlines()
    report_url = None
    if path.lower().endswith(REPORTS):
        report_url = await report_link(request, access.project.id, job_id, path)
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    return await render(
        request,
        "file.html",
        {
            "project": access.project,
            "job_id": job_id,
            "path": path,
            "name": basename(path),
            "crumbs": _crumbs(folder),
            "size": member.size,
            "kind": kind,
            "lines": lines,
            "cut": cut,
            "report_url": report_url,
        },
    )


async def report_link(request: Request, project_id: int, job_id: int, path: str) -> str:
    """The report opened under a capability for its folder, on PAGES_URL when set."""
    state = web(request)
    user = (await viewer(request)).user
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    grant = Capability(project_id, job_id, folder, user.id if user else None)
    return links.report(state.pages_url or "", state.capabilities.issue(grant), path)


async def raw(request: Request) -> Response:
    """The file's bytes as the API's single-file route serves them, but shown inline where a
    browser only displays them (images, PDFs, text); HTML as text: it runs as a report only."""
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    path = _file_path(request)
    member = await services(request).files.file(access, job_id, path)
    response = await serve_file(request, member, sniffed=False)
    content_type = response.headers.get("content-type", by_extension(path))
    if content_type.startswith(("text/", "application/xhtml", "application/xml")):
        response.headers["content-type"] = "text/plain; charset=utf-8"
        content_type = "text/plain"
    if content_type.startswith(_INLINE):
        attachment = content_disposition(member.name)
        response.headers["content-disposition"] = "inline" + attachment[len("attachment") :]
    if content_type.startswith("application/pdf"):
        # Chromium's PDF viewer does not open in a sandboxed document; a PDF runs no script.
        response.headers["content-security-policy"] = "default-src 'none'"
    return response


async def download(request: Request) -> Response:
    """The whole archive, or with `?path=DIR` that folder as a new zip (the API's
    `artifacts_tree/archive`)."""
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    svc = services(request)
    folder = validate_directory(request.query_params.get("path"))
    if not folder:
        found = await svc.artifacts.download(access, job_id)
        return await serve_download(request, found, mode=svc.settings.download_mode)
    zipped = await svc.files.folder_zip(access, job_id, folder)
    body = await unless_disconnected(request, primed(zipped))
    return StreamingResponse(
        body,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": content_disposition(f"{basename(folder)}.zip"),
        },
    )


async def keep(request: Request) -> Response:
    """GitLab's "Keep" button: developers and up, with the session's CSRF token."""
    await require_csrf(request)
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    await services(request).artifacts.keep(access, job_id)
    return RedirectResponse(links.job(access.project.path_with_namespace, job_id), 303)


async def delete(request: Request) -> Response:
    """Deletes the job's artifacts: maintainers and up, as the API's DELETE."""
    await require_csrf(request)
    access = await project_access(request)
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    await services(request).artifacts.delete(access, job_id)
    return RedirectResponse(links.job(access.project.path_with_namespace, job_id), 303)
