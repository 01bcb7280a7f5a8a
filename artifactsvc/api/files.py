"""Single files out of archives (CONTRACT sections 5 and 8), listings and folder zips.

The by-ref routes share one raw prefix, `jobs/artifacts/<rest>`, because a ref may hold `/`
(and even `raw`): `<rest>` is read at each `/raw/` in turn, and as `<ref>/download`; the
file service takes the first reading whose ref has a matching job.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from artifactsvc.api.context import project_access, services
from artifactsvc.api.downloads import prime, primed, serve_download
from artifactsvc.api.headers import content_disposition, http_date, quoted
from artifactsvc.api.mime import SNIFF_BYTES, by_extension, sniff
from artifactsvc.api.pagination import offset_headers, offset_page
from artifactsvc.api.params import boolean, path_id, strict_text
from artifactsvc.api.ranges import not_modified, requested_range
from artifactsvc.api.routing import RawRoute, decode_segment, route
from artifactsvc.errors import NotFound
from artifactsvc.files import MemberFile, RefTarget
from artifactsvc.listing import TreeEntry
from artifactsvc.models import format_time
from artifactsvc.paths import basename, validate_artifact_path, validate_directory
from artifactsvc.ziprange import Entry

PREFIX = "/api/v4/projects/{id}"


async def serve_file(request: Request, member: MemberFile, *, sniffed: bool) -> Response:
    etag = member.etag
    headers = {
        "Content-Disposition": content_disposition(member.name),
        "ETag": quoted(etag),
        "Accept-Ranges": "bytes",
    }
    if member.modified is not None:
        headers["Last-Modified"] = http_date(member.modified)
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    size = member.size
    byte_range = requested_range(request.headers, size, etag, member.modified)
    offset, length, status = 0, size, 200
    if byte_range is not None:
        offset, length, status = byte_range.start, byte_range.length, 206
        headers["Content-Range"] = byte_range.content_range(size)
    headers["Content-Length"] = str(length)
    streams = request.method != "HEAD" and length > 0
    whole_head = offset == 0 and length >= min(SNIFF_BYTES, size)
    if sniffed and not (streams and whole_head):
        # The type must not depend on which bytes this response carries (HEAD, a range,
        # a short file): sniff the member's own first bytes.
        headers["Content-Type"] = sniff(await member.head(SNIFF_BYTES))
    if not streams:
        headers.setdefault("Content-Type", by_extension(member.path))
        return Response(status_code=status, headers=headers)
    head, body = await prime(member.read(offset, length))
    headers.setdefault("Content-Type", sniff(head) if sniffed else by_extension(member.path))
    return StreamingResponse(body, status_code=status, headers=headers)


async def file_by_job(request: Request) -> Response:
    path = validate_artifact_path(request.path_params["artifact_path"])
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    member = await services(request).files.file(access, job_id, path)
    return await serve_file(request, member, sniffed=False)


async def by_ref(request: Request) -> Response:
    """`<ref>/download` or `<ref>/raw/<path>`, trying each possible reading of `<rest>`."""
    access = await project_access(request, authenticated=False, job_token=True)
    targets = ref_targets(request.scope["raw_path_params"]["rest"])
    if not targets:
        raise NotFound()
    svc = services(request)
    found = await svc.files.by_ref(
        access,
        targets,
        request.query_params.get("job"),
        recent=boolean(request.query_params, "search_recent_successful_pipelines"),
    )
    if isinstance(found, MemberFile):
        return await serve_file(request, found, sniffed=True)
    return await serve_download(request, found, redirect=svc.settings.download_mode == "redirect")


def ref_targets(raw_rest: str) -> list[RefTarget]:
    """Every reading of `<ref>/raw/<path>` (split at each `/raw/`), then `<ref>/download`.

    Each part is percent-decoded once; paths are validated here, at the edge (a path that is
    invalid in one reading is invalid in every earlier one, so this refuses exactly what
    trying them in turn would)."""
    targets: list[RefTarget] = []
    start = 0
    while (at := raw_rest.find("/raw/", start)) != -1:
        if at > 0:
            raw_path = raw_rest[at + len("/raw/") :]
            targets.append(
                RefTarget(
                    decode_segment(raw_rest[:at]),
                    validate_artifact_path(decode_segment(raw_path)),
                )
            )
        start = at + 1
    if raw_rest.endswith("/download"):
        targets.append(RefTarget(decode_segment(raw_rest[: -len("/download")]), None))
    return targets


def _entry_json(item: TreeEntry) -> dict[str, object]:
    entry: Entry | None = item.entry
    return {
        "name": basename(item.path),
        "path": item.path,
        "type": item.kind,
        "size": entry.uncompressed_size if entry and item.kind == "file" else 0,
        "compressed_size": entry.compressed_size if entry and item.kind == "file" else 0,
        "crc": f"{entry.crc32:08x}" if entry and item.kind == "file" else None,
        "mode": f"{entry.mode & 0o7777:o}" if entry else None,
        "mtime": format_time(_mtime(entry)) if entry else None,
    }


def _mtime(entry: Entry) -> datetime:
    return datetime.fromtimestamp(entry.mtime, UTC)


async def tree(request: Request) -> Response:
    folder = validate_directory(strict_text(request.scope["query_string"], "path"))
    recursive = boolean(request.query_params, "recursive")
    page = offset_page(request)
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    svc = services(request)
    found = await svc.files.tree(
        access, job_id, folder, recursive=recursive, offset=page.offset, limit=page.per_page
    )
    headers = offset_headers(request, svc.settings.external_url, page, found.total)
    return JSONResponse([_entry_json(item) for item in found.entries], headers=headers)


async def tree_archive(request: Request) -> Response:
    folder = validate_directory(strict_text(request.scope["query_string"], "path"))
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    name = f"{basename(folder) or 'artifacts'}.zip"
    body = await primed(await services(request).files.folder_zip(access, job_id, folder))
    return StreamingResponse(
        body,
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": content_disposition(name),
        },
    )


ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/jobs/artifacts/{{rest*}}", by_ref),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts_tree", tree),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts_tree/archive", tree_archive),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts/{{artifact_path*}}", file_by_job),
]
