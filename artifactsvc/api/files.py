"""Single files out of archives (CONTRACT sections 5 and 8), listings and folder zips.

The by-ref routes share one raw prefix, `jobs/artifacts/<rest>`, because a ref may hold `/`
(and even `raw`): `<rest>` is split at each `/raw/` in turn and the first split whose ref has
a matching job wins; `<ref>/download` is the archive route.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from artifactsvc.api import artifacts as artifacts_api
from artifactsvc.api.context import project_access, services
from artifactsvc.api.downloads import prime, primed
from artifactsvc.api.mime import SNIFF_BYTES, by_extension, sniff
from artifactsvc.api.pagination import offset_headers, offset_page
from artifactsvc.api.params import boolean, strict_text
from artifactsvc.api.ranges import http_date, not_modified, quoted, requested_range
from artifactsvc.api.routing import RawRoute, decode_segment, route
from artifactsvc.auth import Access
from artifactsvc.errors import ArtifactNotFound, NotFound
from artifactsvc.extract import ArchiveFiles, TreeEntry
from artifactsvc.models import Artifact, format_time
from artifactsvc.objects.port import content_disposition
from artifactsvc.paths import basename, validate_artifact_path, validate_directory
from artifactsvc.ziprange import Entry

PREFIX = "/api/v4/projects/{id}"


def archive_files(request: Request) -> ArchiveFiles:
    return services(request).files


async def serve_file(request: Request, artifact: Artifact, path: str, *, sniffed: bool) -> Response:
    files = archive_files(request)
    entry = await files.find(artifact, path)
    etag = f"{artifact.etag}-{entry.local_header_offset:x}"
    headers = {
        "Content-Disposition": content_disposition(basename(path)),
        "ETag": quoted(etag),
        "Accept-Ranges": "bytes",
    }
    if artifact.created_at is not None:
        headers["Last-Modified"] = http_date(artifact.created_at)
    if not_modified(request.headers, etag):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    size = entry.uncompressed_size
    byte_range = requested_range(request.headers, size, etag, artifact.created_at)
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
        headers["Content-Type"] = sniff(await _member_head(files, artifact, entry))
    if not streams:
        headers.setdefault("Content-Type", by_extension(path))
        return Response(status_code=status, headers=headers)
    head, body = await prime(files.read(artifact, entry, offset, length))
    headers.setdefault("Content-Type", sniff(head) if sniffed else by_extension(path))
    return StreamingResponse(body, status_code=status, headers=headers)


async def _member_head(files: ArchiveFiles, artifact: Artifact, entry: Entry) -> bytes:
    """The first bytes of the member, as many as sniffing looks at."""
    length = min(SNIFF_BYTES, entry.uncompressed_size)
    if length == 0:
        return b""
    return b"".join([chunk async for chunk in files.read(artifact, entry, 0, length)])


async def file_by_job(request: Request) -> Response:
    path = validate_artifact_path(request.path_params["artifact_path"])
    access = await project_access(request, authenticated=False)
    job = await artifacts_api.readable_job(request, access)
    artifact = await artifacts_api.artifact_service(request).archive(job)
    return await serve_file(request, artifact, path, sniffed=False)


async def by_ref(request: Request) -> Response:
    """`<ref>/download` or `<ref>/raw/<path>`, trying each possible split of `<rest>`."""
    raw_rest: str = request.scope["raw_path_params"]["rest"]
    access = await project_access(request, authenticated=False)
    candidates = _raw_splits(raw_rest)
    if raw_rest.endswith("/download"):
        download_ref = raw_rest[: -len("/download")]
        candidates.append((download_ref, None))
    if not candidates:
        raise NotFound()
    last_error: Exception = ArtifactNotFound()
    for raw_ref, raw_path in candidates:
        request.path_params["ref_name"] = decode_segment(raw_ref)
        if raw_path is None:
            try:
                return await artifacts_api.download_by_ref_access(request, access)
            except ArtifactNotFound as error:
                last_error = error
                continue
        path = validate_artifact_path(decode_segment(raw_path))
        try:
            job = await artifacts_api.ref_job(request, access)
        except ArtifactNotFound as error:
            last_error = error
            continue
        artifact = await artifacts_api.artifact_service(request).archive(job)
        return await serve_file(request, artifact, path, sniffed=True)
    raise last_error


def _raw_splits(raw_rest: str) -> list[tuple[str, str | None]]:
    splits: list[tuple[str, str | None]] = []
    start = 0
    while (at := raw_rest.find("/raw/", start)) != -1:
        if at > 0:
            splits.append((raw_rest[:at], raw_rest[at + len("/raw/") :]))
        start = at + 1
    return splits


async def _tree_artifact(request: Request) -> tuple[Access, Artifact]:
    access = await project_access(request, authenticated=False)
    job = await artifacts_api.readable_job(request, access)
    return access, await artifacts_api.artifact_service(request).archive(job)


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
    _, artifact = await _tree_artifact(request)
    found = await archive_files(request).tree(
        artifact, folder, recursive=recursive, offset=page.offset, limit=page.per_page
    )
    headers = offset_headers(request, services(request).settings.external_url, page, found.total)
    return JSONResponse([_entry_json(item) for item in found.entries], headers=headers)


async def tree_archive(request: Request) -> Response:
    folder = validate_directory(strict_text(request.scope["query_string"], "path"))
    _, artifact = await _tree_artifact(request)
    name = f"{basename(folder) or 'artifacts'}.zip"
    body = await primed(archive_files(request).folder_zip(artifact, folder))
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
