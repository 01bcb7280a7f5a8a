"""Single files out of archives (CONTRACT sections 5 and 8); the routes of the listings too
(api/listings.py), since which one a path reaches depends on their order.

The by-ref routes share one raw prefix, `jobs/artifacts/<rest>`, because a ref may hold `/`
(and even `raw`): `<rest>` is read at each `/raw/` in turn, and as `<ref>/download`; the
file service takes the first reading whose ref has a matching job.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from artifactsvc.api import listings
from artifactsvc.api import spec as S
from artifactsvc.api.context import project_access, services
from artifactsvc.api.disconnect import unless_disconnected
from artifactsvc.api.downloads import accel_reply, prime, serve_download
from artifactsvc.api.headers import content_disposition, http_date, quoted
from artifactsvc.api.mime import SNIFF_BYTES, by_extension, sniff
from artifactsvc.api.params import boolean, path_id
from artifactsvc.api.ranges import ByteRange, not_modified, requested_range
from artifactsvc.api.routing import RawRoute, decode_segment, route
from artifactsvc.errors import NotFound
from artifactsvc.files import WHOLE_READ_BYTES, MemberFile, RefTarget
from artifactsvc.paths import validate_artifact_path

PREFIX = "/api/v4/projects/{id}"


async def serve_file(
    request: Request, member: MemberFile, *, sniffed: bool, mode: str = "proxy"
) -> Response:
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
    if mode == "accel" and byte_range is not None:
        # Only a range: nginx fetches the member as a range of the archive, which S3 answers
        # 206; a whole member must be a 200, and stock nginx cannot make one of that.
        offloaded = await offload_member(member, headers, offset, length, sniffed=sniffed)
        if offloaded is not None:
            return offloaded
    if length <= WHOLE_READ_BYTES:
        whole = await unless_disconnected(request, member.read_whole(offset, length))
        headers.setdefault("Content-Type", sniff(whole) if sniffed else by_extension(member.path))
        return Response(whole, status_code=status, headers=headers)
    head, body = await unless_disconnected(request, prime(member.read(offset, length)))
    headers.setdefault("Content-Type", sniff(head) if sniffed else by_extension(member.path))
    return StreamingResponse(body, status_code=status, headers=headers)


async def offload_member(
    member: MemberFile, headers: dict[str, str], offset: int, length: int, *, sniffed: bool
) -> Response | None:
    """`X-Accel-Redirect` for a slice of a stored member, where the store lets nginx fetch
    it (MemberFile.offload); None: the service reads it."""
    span = await member.offload(headers["Content-Disposition"])
    if span is None or span.target.url is None:
        return None
    if sniffed:
        headers.setdefault("Content-Type", sniff(await member.head(SNIFF_BYTES)))
    headers.setdefault("Content-Type", by_extension(member.path))
    fetch = ByteRange(span.start + offset, length)
    return accel_reply(headers, fetch, url=span.target.url, pin=span.archive_etag)


async def file_by_job(request: Request) -> Response:
    path = validate_artifact_path(request.path_params["artifact_path"])
    access = await project_access(request, authenticated=False, job_token=True)
    access.require_read_artifacts()
    job_id = path_id(request.path_params["job_id"], kind="job_id")
    svc = services(request)
    member = await svc.files.file(access, job_id, path)
    return await serve_file(request, member, sniffed=False, mode=svc.settings.download_mode)


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
        return await serve_file(request, found, sniffed=True, mode=svc.settings.download_mode)
    return await serve_download(request, found, mode=svc.settings.download_mode)


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


FILE_ERRORS = (400, 403, 404, 416, 503)
BY_REF = (
    S.Param("job", {"type": "string", "minLength": 1}, required=True, description="the job's name"),
    S.boolean("search_recent_successful_pipelines", "look in the 100 newest successful"),
)
BY_REF_DOWNLOAD = S.Operation(
    "The archive of the newest successful job of that name on a ref",
    S.PUBLIC_OR_JOB,
    {**S.bytes_reply("application/octet-stream", "the archive"), 302: S.REDIRECT},
    params=(*BY_REF, *S.RANGES, *S.SUDO),
    errors=FILE_ERRORS,
    path=f"{PREFIX}/jobs/artifacts/{{ref_name}}/download",
    name="download_by_ref",
)
BY_REF_FILE = S.Operation(
    "One file of the archive of the newest successful job of that name on a ref",
    S.PUBLIC_OR_JOB,
    S.bytes_reply("*/*", "the file, its type sniffed from its first bytes"),
    params=(*BY_REF, *S.RANGES, *S.SUDO),
    errors=FILE_ERRORS,
    path=f"{PREFIX}/jobs/artifacts/{{ref_name}}/raw/{{artifact_path}}",
    name="file_by_ref",
)
FILE = S.Operation(
    "One file out of a job's archive",
    S.PUBLIC_OR_JOB,
    S.bytes_reply("*/*", "the file, its type from its extension"),
    params=(*S.RANGES, *S.SUDO),
    errors=FILE_ERRORS,
)
FOLDER = S.query("path", description="a folder of the archive; empty: its root")
LISTING = (FOLDER, S.boolean("recursive", "everything below, not only the folder's children"))
TREE = S.Operation(
    "The archive's entries as JSON, paginated (beyond GitLab)",
    S.PUBLIC_OR_JOB,
    {200: S.json_reply(S.array(S.ref("TreeEntry")), headers=S.PAGE_HEADERS)},
    params=(*LISTING, *S.PAGES, *S.SUDO),
    errors=(400, 403, 404, 503),
)
GITLAB_TREE = S.Operation(
    "GET /projects/:id/jobs/:job_id/artifacts/tree (GitLab 18.8): a folder's entries",
    S.PUBLIC_OR_JOB,
    {200: S.json_reply(S.array(S.ref("GitlabTreeEntry")), headers=S.PAGE_HEADERS_UNCOUNTED)},
    params=(*LISTING, *S.PAGES, *S.SUDO),
    errors=(400, 403, 404, 503),
)
FOLDER_ZIP = S.Operation(
    "One folder of the archive as a new zip, members copied still compressed",
    S.PUBLIC_OR_JOB,
    {200: S.Reply("the folder's zip", {"application/zip": S.BINARY}, ("Content-Disposition",))},
    params=(FOLDER, *S.SUDO),
    errors=(400, 403, 404, 503),
)

ROUTES: list[RawRoute] = [
    route(f"{PREFIX}/jobs/artifacts/{{rest*}}", by_ref, spec=(BY_REF_DOWNLOAD, BY_REF_FILE)),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts_tree", listings.tree, spec=TREE),
    route(
        f"{PREFIX}/jobs/{{job_id}}/artifacts_tree/archive", listings.tree_archive, spec=FOLDER_ZIP
    ),
    # Before the file route, as in GitLab, whose router takes the first route declared that
    # matches: a file named `tree` (or `tree.json`) at the archive's root is listed instead,
    # and can still be fetched by ref (`jobs/artifacts/:ref_name/raw/tree?job=`).
    route(
        f"{PREFIX}/jobs/{{job_id}}/artifacts/{{leaf}}",
        listings.gitlab_tree,
        only={"leaf": listings.GITLAB_TREE},
        spec=GITLAB_TREE,
    ),
    route(f"{PREFIX}/jobs/{{job_id}}/artifacts/{{artifact_path*}}", file_by_job, spec=FILE),
]
