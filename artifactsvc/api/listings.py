"""Listings of an archive: GitLab's `artifacts/tree`, and ours, `artifacts_tree` (a superset
of GitLab's entry shape) with `artifacts_tree/archive`, a folder as a new zip.

Both endpoints share GitLab's fields: `name`, `path`, `type`, `size` and `mode`, the
permission bits as six octal digits (Workhorse writes `FileMode.Perm()` in octal and the
entity pads it: `000644`), null for a folder that only deeper paths imply. GitLab's gives a
folder's path a trailing `/`, calls a symlink a `file`, and has no `size` for folders; ours
keeps paths as the file routes name them, says `symlink`, and adds sizes, CRC and mtime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from artifactsvc.access import Access
from artifactsvc.api.context import project_access, services
from artifactsvc.api.disconnect import unless_disconnected
from artifactsvc.api.downloads import primed
from artifactsvc.api.headers import content_disposition
from artifactsvc.api.pagination import ARRAY_COUNT_LIMIT, OffsetPage, offset_headers, offset_page
from artifactsvc.api.params import boolean, path_id, strict_text
from artifactsvc.api.responses import JSONResponse
from artifactsvc.listing import TreeEntry
from artifactsvc.models import format_time
from artifactsvc.paths import basename, validate_directory
from artifactsvc.ziprange import Entry

# What GitLab's listing answers to, after `jobs/:job_id/artifacts/`: its route is declared
# before the file route, and Grape adds its `(.json)` format suffix.
GITLAB_TREE = ("tree", "tree.json")


def _mode(entry: Entry | None) -> str | None:
    return None if entry is None else f"{entry.mode & 0o777:06o}"


def _gitlab_entry(item: TreeEntry) -> dict[str, object]:
    directory = item.kind == "directory"
    shaped: dict[str, object] = {
        "name": basename(item.path),
        "path": f"{item.path}/" if directory else item.path,
        "type": "directory" if directory else "file",
    }
    if not directory:
        shaped["size"] = item.entry.uncompressed_size if item.entry else 0
    shaped["mode"] = _mode(item.entry)
    return shaped


def _entry_json(item: TreeEntry) -> dict[str, object]:
    entry = item.entry
    file = entry is not None and item.kind == "file"
    return {
        "name": basename(item.path),
        "path": item.path,
        "type": item.kind,
        "size": entry.uncompressed_size if entry and file else 0,
        "compressed_size": entry.compressed_size if entry and file else 0,
        "crc": f"{entry.crc32:08x}" if entry and file else None,
        "mode": _mode(entry),
        "mtime": format_time(datetime.fromtimestamp(entry.mtime, UTC)) if entry else None,
    }


@dataclass(frozen=True)
class ListingRequest:
    access: Access
    job_id: int
    folder: str
    recursive: bool
    page: OffsetPage


async def listing_request(request: Request) -> ListingRequest:
    """What both listings take: `path`, `recursive` and a page, parsed in GitLab's order."""
    folder = validate_directory(strict_text(request.scope["query_string"], "path"))
    recursive = boolean(request.query_params, "recursive")
    page = offset_page(request)
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    return ListingRequest(access, job_id, folder, recursive, page)


async def gitlab_tree(request: Request) -> Response:
    """GET /projects/:id/jobs/:job_id/artifacts/tree (GitLab 18.8): `path`, `recursive`."""
    asked = await listing_request(request)
    page = asked.page
    svc = services(request)
    found = await unless_disconnected(
        request,
        svc.files.gitlab_tree(
            asked.access,
            asked.job_id,
            asked.folder,
            recursive=asked.recursive,
            offset=page.offset,
            limit=page.per_page,
        ),
    )
    headers = offset_headers(
        request, svc.settings.external_url, page, found.total, count_limit=ARRAY_COUNT_LIMIT
    )
    return JSONResponse([_gitlab_entry(item) for item in found.entries], headers=headers)


async def tree(request: Request) -> Response:
    asked = await listing_request(request)
    page = asked.page
    svc = services(request)
    found = await unless_disconnected(
        request,
        svc.files.tree(
            asked.access,
            asked.job_id,
            asked.folder,
            recursive=asked.recursive,
            offset=page.offset,
            limit=page.per_page,
        ),
    )
    headers = offset_headers(request, svc.settings.external_url, page, found.total)
    return JSONResponse([_entry_json(item) for item in found.entries], headers=headers)


async def tree_archive(request: Request) -> Response:
    folder = validate_directory(strict_text(request.scope["query_string"], "path"))
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    name = f"{basename(folder) or 'artifacts'}.zip"
    zipped = await services(request).files.folder_zip(access, job_id, folder)
    body = await unless_disconnected(request, primed(zipped))
    return StreamingResponse(
        body,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": content_disposition(name),
        },
    )
