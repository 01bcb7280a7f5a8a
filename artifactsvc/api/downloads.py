"""Serving a download (CONTRACT section 7): headers, ranges, conditionals, HEAD, redirect,
and accel (behind the nginx of `artifactsvc nginx-config`: the bytes are nginx's to send).

The first chunk is read before any header is sent, so a missing object or a store that is
down still gets a proper JSON error; after that, a failure aborts the connection (the
middleware re-raises), and the short body can never pass for a complete one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from artifactsvc.api.headers import content_disposition, http_date, quoted
from artifactsvc.api.ranges import ByteRange, not_modified, requested_range
from artifactsvc.api.responses import StreamingResponse
from artifactsvc.artifacts import Download
from artifactsvc.nginx import ACCEL_FILES, ACCEL_URL, PIN_HEADER, RANGE_HEADER, URL_HEADER
from artifactsvc.streams import aclose


async def prime(chunks: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """Reads the first chunk now; returns it and an iterator that replays it, then the rest."""
    try:
        first = await chunks.__anext__()
    except StopAsyncIteration:
        first = b""
    except BaseException:
        await aclose(chunks)
        raise

    # Handed over, not captured: a closure's `first` would live as long as the download.
    held = [first] if first else []

    async def replay() -> AsyncIterator[bytes]:
        try:
            if held:
                yield held.pop()
            async for chunk in chunks:
                yield chunk
                del chunk  # sent: not held through the next read (streams.ReadBudget)
        finally:
            await aclose(chunks)

    return first, replay()


async def primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """`prime` for callers that only need the replaying iterator."""
    _, replay = await prime(chunks)
    return replay


async def serve_download(request: Request, download: Download, *, mode: str) -> Response:
    """The stored object; with mode `redirect` (where the store can presign) a 302 to it;
    with `accel`, an `X-Accel-Redirect` to where nginx finds its bytes (`accel_reply`).

    A HEAD is sent to a URL presigned for HEAD: S3 signs the method, and answers 403 to a
    HEAD on a URL signed for GET. In accel mode the service answers conditionals (304, 416)
    and HEAD itself: nothing is fetched for them."""
    disposition = content_disposition(download.filename)
    if mode == "redirect" and download.can_presign:
        head = request.method == "HEAD"
        location = await download.presign(disposition, method="HEAD" if head else "GET")
        return RedirectResponse(location, status_code=302)
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": disposition,
        "ETag": quoted(download.etag),
        "Accept-Ranges": "bytes",
    }
    if download.modified is not None:
        headers["Last-Modified"] = http_date(download.modified)
    if not_modified(request.headers, download.etag):
        return Response(status_code=304, headers={"ETag": headers["ETag"]})
    size = download.size
    byte_range = requested_range(request.headers, size, download.etag, download.modified)
    start, length, status = 0, size, 200
    if byte_range is not None:
        start, length, status = byte_range.start, byte_range.length, 206
        headers["Content-Range"] = byte_range.content_range(size)
    headers["Content-Length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    if mode == "accel":
        target = await download.offload(disposition)
        return accel_reply(headers, byte_range, path=target.path, url=target.url, pin=download.etag)
    body = await primed(download.chunks(start, length))
    return StreamingResponse(body, status_code=status, headers=headers)


def accel_reply(
    headers: dict[str, str],
    fetch: ByteRange | None,
    *,
    path: str | None = None,
    url: str | None = None,
    pin: str | None = None,
) -> Response:
    """An empty answer that nginx (artifactsvc/nginx.py) turns into the object's bytes.

    A local file (`path`) is nginx's to range: it reads the client's `Range`, and its
    `If-Range` against our ETag. A `url` is fetched with `fetch`, the range this service
    chose (of the object: for a stored member, where it lies in the archive), pinned to the
    object's version `pin`, so S3 never sees the client's conditionals, which are about our
    validators, not its own; our Content-Range replaces S3's."""
    accel = {name: value for name, value in headers.items() if name != "Content-Length"}
    if path is not None:
        del accel["Accept-Ranges"]  # nginx's range filter says it for a file, and ranges it
        accel.pop("Content-Range", None)
        accel["X-Accel-Redirect"] = ACCEL_FILES + quote(path, safe="/")
        return Response(status_code=200, headers=accel)
    assert url is not None and pin is not None
    accel["X-Accel-Redirect"] = ACCEL_URL
    accel[URL_HEADER] = url
    accel[PIN_HEADER] = quoted(pin)
    if fetch is not None:
        accel[RANGE_HEADER] = f"bytes={fetch.start}-{fetch.start + fetch.length - 1}"
    return Response(status_code=200, headers=accel)
