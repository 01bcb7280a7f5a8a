"""Objects in an S3 bucket (AWS or any S3-compatible endpoint), through boto3.

The only module that knows botocore: its exceptions become `artifactsvc.errors` here. boto3
clients are thread-safe and every call blocks, so each one runs on the executor; the
connection pool is sized to that executor so no worker waits for a connection.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import aclosing, closing, contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar, cast

import boto3
import urllib3.exceptions
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    HTTPClientError,
    IncompleteReadError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.httpsession import URLLib3Session
from botocore.response import StreamingBody

from artifactsvc.blocking import DeadlinePassed, call
from artifactsvc.errors import (
    ArtifactsvcError,
    ObjectChanged,
    ObjectNotFound,
    StorageError,
    StorageTimeout,
    StorageUnavailable,
)
from artifactsvc.objects._parts import PartBuffers, regroup
from artifactsvc.objects.port import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_PART_SIZE,
    ChunkSize,
    ObjectInfo,
    Offload,
    PresignMethod,
    read_size,
    validate_key,
)

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CreateMultipartUploadOutputTypeDef,
        GetObjectRequestTypeDef,
    )

T = TypeVar("T")
log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024
# A presigned URL for one ranged read, used the moment it is made: a minute is plenty.
PRESIGNED_READ_EXPIRY = 60
DEFAULT_PART_CONCURRENCY = 3
MAX_PARTS = 10_000
_NOT_FOUND = {"NoSuchKey", "NotFound", "404"}
_CHANGED = {"PreconditionFailed", "412"}
_UNAVAILABLE = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "503"}
_TRANSPORT_ERRORS = (
    HTTPClientError,
    BotoConnectionError,
    IncompleteReadError,
    urllib3.exceptions.HTTPError,
    OSError,
)


class S3ObjectStore:
    """`ObjectStore` over `bucket`, with every key stored under `prefix/`."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        executor: ThreadPoolExecutor,
        endpoint_url: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        deadline: float | None = None,
        part_concurrency: int = DEFAULT_PART_CONCURRENCY,
    ) -> None:
        prefix = prefix.strip("/")
        if part_concurrency < 1:
            raise ValueError(f"part concurrency is at least 1, not {part_concurrency}")
        self._part_concurrency = part_concurrency
        self.bucket = bucket
        self._prefix = "/".join(validate_key(prefix)) + "/" if prefix else ""
        self._executor = executor
        # Each call's bound from the moment it is asked for, a wait for a thread included.
        self._deadline = 3 * read_timeout if deadline is None else deadline
        # Aborts of failed uploads, run on after the request has its answer.
        self._aborts: set[asyncio.Task[None]] = set()
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            # Three attempts in all (botocore's `max_attempts` would mean three *retries*), so
            # a dead or hung store fails within about three read timeouts.
            retries={"mode": "standard", "total_max_attempts": 3},
            signature_version="s3v4",
            # ThreadPoolExecutor has no public accessor for its size.
            max_pool_connections=max(10, executor._max_workers),
        )
        if endpoint_url is not None:
            # S3-compatible stores rarely have virtual-host DNS, and not all of them accept
            # the CRC trailers botocore now adds to every upload.
            config = config.merge(
                Config(
                    s3={"addressing_style": "path"},
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                )
            )
        session = boto3.session.Session()
        self._client: S3Client = session.client("s3", endpoint_url=endpoint_url, config=config)
        # The client's own HTTP session, for ranged reads through presigned URLs
        # (`_open_range`). botocore does not publish it: if a release moves it, those reads
        # simply go through GetObject.
        found = getattr(getattr(self._client, "_endpoint", None), "http_session", None)
        self._http = found if isinstance(found, URLLib3Session) else None

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], *, part_size: int = DEFAULT_PART_SIZE
    ) -> ObjectInfo:
        """Up to `part_concurrency` parts in flight while the next one is still being read,
        so receiving overlaps sending (boto3's `upload_file` sends 10 at once from a file).
        Memory: `part_concurrency + 1` parts; when all are in flight the request's body is
        not read (backpressure to the client) until one has landed.

        What is returned comes from the answers themselves (PutObject's or
        CompleteMultipartUpload's ETag, the bytes counted here), as Workhorse takes it: no
        HEAD afterwards, a round trip saved on every upload (two for an archive and its
        index). `last_modified` is the time it landed by this clock: S3 answers neither
        with one, and no caller keeps it."""
        name = self._name(key)
        etag = ""
        total = 0
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts are at least {MIN_PART_SIZE} bytes, not {part_size}")
        upload_id: str | None = None
        in_flight: dict[asyncio.Task[CompletedPartTypeDef], bytearray] = {}
        sent: list[CompletedPartTypeDef] = []
        numbered = 0
        # A landed part's buffer takes the next part: at most part_concurrency + 1 of them.
        buffers = PartBuffers(part_size)

        def abandoned(upload: CreateMultipartUploadOutputTypeDef) -> None:
            self._executor.submit(self._abort, name, upload["UploadId"])

        async def landed() -> None:
            # The first failure wins: the others are cancelled below, never half-counted.
            done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                body = in_flight.pop(task)
                sent.append(task.result())
                # Only a part that landed: a failed one's thread may still be reading it.
                buffers.give(body)

        try:
            async with aclosing(regroup(chunks, part_size, buffers)) as parts:
                async for part, last in parts:
                    total += len(part)
                    if last and upload_id is None:
                        etag = await self._call(key, partial(self._put, name, part))
                        break
                    if upload_id is None:
                        create = partial(
                            self._client.create_multipart_upload, Bucket=self.bucket, Key=name
                        )
                        upload_id = (await self._call(key, create, discard=abandoned))["UploadId"]
                    while len(in_flight) >= self._part_concurrency:
                        await landed()
                    numbered += 1
                    # The task holds the part until it has landed.
                    task = asyncio.create_task(self._upload_part(key, upload_id, numbered, part))
                    in_flight[task] = part
            while in_flight:
                await landed()
            if upload_id is not None:
                sent.sort(key=lambda done: done["PartNumber"])
                complete = partial(
                    self._client.complete_multipart_upload,
                    Bucket=self.bucket,
                    Key=name,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": sent},
                )
                etag = (await self._call(key, complete))["ETag"]
        except BaseException as failure:
            # The abort below must not race a part of ours still being written, so parts in
            # flight are waited for. After a storage failure each ends within its own
            # deadline (a hung part is left to its thread, for nobody); cancelling them
            # instead would wait out the hung thread's read timeouts (`call` lets a
            # cancellation through only once a started call has returned). When the upload
            # itself is cancelled (client gone, shutdown) they are cancelled too.
            if not isinstance(failure, Exception):
                for task in in_flight:
                    task.cancel()
            if in_flight:
                await asyncio.wait(in_flight)
            for task in in_flight:
                if not task.cancelled():
                    task.exception()  # retrieved: asyncio would log it as never retrieved
            if upload_id is not None:
                self._abort_later(name, upload_id)
            raise
        return ObjectInfo(key=key, size=total, etag=etag.strip('"'), last_modified=_now())

    def _abort_later(self, name: str, upload_id: str) -> None:
        """Abort a failed upload without making its request wait: the store that failed it
        may be hung. The abort gets botocore's own timeouts and retries, then a second try,
        since a part still in flight may land after the first; what stays, gc removes."""

        async def abort() -> None:
            for attempt in (1, 2):
                if attempt == 2:
                    await asyncio.sleep(1.0)
                try:
                    with _translated(name):
                        await call(self._executor, partial(self._abort, name, upload_id))
                except Exception:
                    if attempt == 2:
                        log.warning("could not abort upload of %s; gc will", name, exc_info=True)

        task = asyncio.get_running_loop().create_task(abort())
        self._aborts.add(task)
        task.add_done_callback(self._aborts.discard)

    async def head(self, key: str) -> ObjectInfo:
        head = partial(self._client.head_object, Bucket=self.bucket, Key=self._name(key))
        found = await self._call(key, head)
        return ObjectInfo(
            key=key,
            size=found["ContentLength"],
            etag=found["ETag"].strip('"'),
            last_modified=found["LastModified"],
        )

    async def get_range(
        self, key: str, start: int, length: int, *, etag: str | None = None
    ) -> bytes:
        params = self._get_params(key, start, length, etag)
        if length == 0:
            return b""

        def read() -> bytes:
            body = self._open(params)
            if body is None:
                return b""
            with closing(body):
                return body.read()

        return await self._call(key, read)

    def blocking_range(self, key: str, size: int, *, etag: str | None = None) -> _DirectRange:
        return _DirectRange(self, key, size, etag)

    async def stream(
        self,
        key: str,
        start: int = 0,
        length: int | None = None,
        *,
        etag: str | None = None,
        chunk_size: ChunkSize = DEFAULT_CHUNK_SIZE,
    ) -> AsyncIterator[bytes]:
        size = read_size(chunk_size)
        params = self._get_params(key, start, length, etag)
        if length == 0:
            return
        body: _Body | None = None
        try:
            opened = await self._call(key, partial(self._open, params), discard=_close)
            body = None if opened is None else _Body(opened)
            while body is not None:
                data = await self._read(key, body, size())
                if not data:
                    break
                yield data
                del data  # sent: the next read must not keep it alive (streams.ReadBudget)
        finally:
            # Closing drops the connection rather than draining it; it does not block, and an
            # async generator finalised without a running loop cannot await.
            if body is not None:
                body.close_when_idle()

    async def _read(self, key: str, body: _Body, size: int) -> bytes:
        """The next `size` bytes of a streamed body, read on the executor within the deadline.

        `_call` per chunk cost as much event-loop time as sending the chunk (wait_for, shield
        and wrap_future: py-spy, 100 concurrent downloads). A body needs none of that: a read
        cut short by a cancellation or the deadline is left to finish for nobody, and the
        body is closed when it returns (`_Body.close_when_idle`, in `stream`'s finally)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()

        def run() -> None:
            try:
                data = body.read(size)
            except BaseException as error:  # handed to the awaiting task, raised there
                _settle_soon(loop, done, error)
            else:
                _settle_soon(loop, done, data)

        started = self._executor.submit(run)
        # A timer, not asyncio.timeout: it fails the future, not the task (cheaper per chunk).
        timer = loop.call_later(self._deadline, _expire, done, self._deadline)
        try:
            with _translated(key):
                return await done
        finally:
            timer.cancel()
            started.cancel()  # withdrawn if still queued; a running read cannot be

    async def delete(self, key: str) -> None:
        delete = partial(self._client.delete_object, Bucket=self.bucket, Key=self._name(key))
        with suppress(ObjectNotFound):
            await self._call(key, delete)

    @property
    def can_presign(self) -> bool:
        return True

    async def presign(
        self,
        key: str,
        *,
        disposition: str,
        method: PresignMethod = "GET",
        expires_in: int = 300,
    ) -> str:
        # HeadObject takes the response-* overrides too, so a HEAD through the URL reports
        # the Content-Disposition a GET would get.
        presign = partial(
            self._client.generate_presigned_url,
            "head_object" if method == "HEAD" else "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._name(key),
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=expires_in,
        )
        return await self._call(key, presign)

    @property
    def can_offload_ranges(self) -> bool:
        return True  # a presigned GET takes any Range (it is not signed)

    async def offload(self, key: str, *, disposition: str, expires_in: int = 300) -> Offload:
        # The proxy passes S3's Content-Type on: make it the one the service would send.
        presign = partial(
            self._client.generate_presigned_url,
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": self._name(key),
                "ResponseContentDisposition": disposition,
                "ResponseContentType": "application/octet-stream",
            },
            ExpiresIn=expires_in,
        )
        return Offload(url=await self._call(key, presign))

    async def ping(self) -> None:
        def probe() -> None:
            self._client.head_bucket(Bucket=self.bucket)
            # Signing the first URL of a process sets up the presigner (~1 ms); done here
            # (readiness warms the process up before it serves), not on the first read.
            self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._prefix + "ping"},
                ExpiresIn=PRESIGNED_READ_EXPIRY,
            )

        try:
            await self._call("", probe)
        except ArtifactsvcError as exc:
            raise StorageUnavailable(f"bucket {self.bucket}: {exc}") from exc

    async def list(self, prefix: str = "") -> AsyncIterator[ObjectInfo]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=self._prefix + prefix))
        while (page := await self._call(prefix, partial(_next, pages))) is not None:
            for found in page.get("Contents", []):
                yield ObjectInfo(
                    key=found["Key"][len(self._prefix) :],
                    size=found["Size"],
                    etag=found["ETag"].strip('"'),
                    last_modified=found["LastModified"],
                )

    async def abort_stale_uploads(self, older_than: datetime) -> int:
        if older_than.tzinfo is None:
            raise ValueError("older_than must be timezone-aware")
        paginator = self._client.get_paginator("list_multipart_uploads")
        pages = iter(paginator.paginate(Bucket=self.bucket, Prefix=self._prefix))
        aborted = 0
        while (page := await self._call("", partial(_next, pages))) is not None:
            for upload in page.get("Uploads", []):
                if upload["Initiated"] < older_than:
                    abort = partial(self._abort, upload["Key"], upload["UploadId"])
                    await self._call(upload["Key"], abort)
                    aborted += 1
        return aborted

    def _name(self, key: str) -> str:
        return self._prefix + "/".join(validate_key(key))

    def _get_params(
        self, key: str, start: int, length: int | None, etag: str | None
    ) -> GetObjectRequestTypeDef:
        if start < 0 or (length is not None and length < 0):
            raise ValueError(f"invalid range: start={start} length={length}")
        params: GetObjectRequestTypeDef = {"Bucket": self.bucket, "Key": self._name(key)}
        if start or length is not None:
            end = "" if length is None else str(start + length - 1)
            params["Range"] = f"bytes={start}-{end}"
        if etag is not None:
            params["IfMatch"] = etag
        return params

    def _open(self, params: GetObjectRequestTypeDef) -> StreamingBody | None:
        """The body of a GET, or None when the range starts past the end of the object."""
        try:
            return self._client.get_object(**params)["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":
                return None
            raise

    def _open_range(self, params: GetObjectRequestTypeDef) -> StreamingBody | None:
        """`_open` for a ranged GET, through a presigned URL when it answers plainly.

        A GetObject through botocore costs about 1 ms of Python (parameter validation,
        endpoint rules, ~20 event hooks, signing the headers, parsing every response header
        into the modelled output, a dateutil parse of Last-Modified): as much as the rest of
        a warm single-file read. A presigned URL is signed in ~0.1 ms and sent through the
        client's own HTTP session (its connection pool, TLS, proxies and timeouts). The
        Range and If-Match headers are not signed, and S3 does not need them to be. Only a
        206 (or a 416: nothing there) is taken from it; any other answer, or a connection
        that failed before one, and the same GET is made through botocore, which retries
        and turns S3's error into ours. A timeout is not asked twice: the store is slow."""
        if self._http is not None:
            with suppress(_Unanswered):
                return self._presigned_get(self._http, params)
        return self._open(params)

    def _presigned_get(
        self, http: URLLib3Session, params: GetObjectRequestTypeDef
    ) -> StreamingBody | None:
        url = self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": params["Bucket"], "Key": params["Key"]},
            ExpiresIn=PRESIGNED_READ_EXPIRY,
        )
        wanted = params["Range"]
        headers = {"Range": wanted}
        if "IfMatch" in params:
            headers["If-Match"] = params["IfMatch"]
        request = AWSRequest("GET", url, headers=headers).prepare()
        request.stream_output = True
        try:
            response = http.send(request)
        except (ConnectTimeoutError, ReadTimeoutError):
            raise
        except _TRANSPORT_ERRORS as exc:
            raise _Unanswered() from exc
        if response.status_code == 206:
            length = response.headers.get("content-length")
            if length is not None and _range_fits(wanted, int(length)):
                return StreamingBody(response.raw, int(length))
        elif response.status_code == 416:
            response.raw.close()
            return None
        response.raw.close()
        raise _Unanswered()

    async def _upload_part(
        self, key: str, upload_id: str, number: int, body: bytearray
    ) -> CompletedPartTypeDef:
        if number > MAX_PARTS:
            raise StorageError(f"{key}: more than {MAX_PARTS} parts; use a larger part size")
        send = partial(
            self._client.upload_part,
            Bucket=self.bucket,
            Key=self._name(key),
            UploadId=upload_id,
            PartNumber=number,
            Body=_blob(body),
        )
        return {"ETag": (await self._call(key, send))["ETag"], "PartNumber": number}

    def _put(self, name: str, body: bytearray) -> str:
        etag: str = self._client.put_object(Bucket=self.bucket, Key=name, Body=_blob(body))["ETag"]
        return etag

    def _abort(self, name: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "NoSuchUpload":
                raise

    async def _call(
        self, key: str, fn: Callable[[], T], *, discard: Callable[[T], object] | None = None
    ) -> T:
        with _translated(key):
            return await call(self._executor, fn, discard=discard, deadline=self._deadline)


class _DirectRange:
    """`BlockingRange` over one object, for a caller on a worker thread of its own.

    Each request (and each body read) runs on the store's executor within the storage
    deadline, as `_call` runs an awaited one, but the caller waits for it on its own thread:
    a hop to the storage pool and back, not a round trip through the event loop. A member
    that fits one chunk costs one call: the GET and its whole body."""

    def __init__(self, store: S3ObjectStore, key: str, size: int, etag: str | None) -> None:
        self._store = store
        self._key = key
        self._size = size
        self._etag = etag

    @property
    def size(self) -> int:
        return self._size

    def read(self, start: int, length: int) -> bytes:
        if length == 0:
            return b""
        params = self._store._get_params(self._key, start, length, self._etag)

        def read() -> bytes:
            body = self._store._open_range(params)
            if body is None:
                return b""
            with closing(body):
                data: bytes = body.read()
                return data

        with _translated(self._key):
            return self._bounded(read)

    def stream(self, start: int, length: int) -> Iterator[bytes]:
        if length == 0:
            return
        params = self._store._get_params(self._key, start, length, self._etag)

        def first() -> tuple[_Body, bytes] | None:
            opened = self._store._open_range(params)
            if opened is None:
                return None
            body = _Body(opened)
            try:
                return body, body.read(DEFAULT_CHUNK_SIZE)
            except BaseException:
                body.close_when_idle()
                raise

        with _translated(self._key):
            started = self._bounded(first, discard=_close_first)
            if started is None:
                return
            body, data = started
            # What the object holds of the range: once it has all come, no read is left to
            # make (botocore checks the body against its Content-Length as it ends).
            left = max(0, min(length, self._size - start))
            try:
                while data:
                    yield data
                    left -= len(data)
                    if left <= 0:
                        return
                    data = self._bounded(partial(body.read, DEFAULT_CHUNK_SIZE))
            finally:
                # Not read to its end (abandoned): the connection is dropped, not drained.
                body.close_when_idle()

    def _bounded(self, fn: Callable[[], T], discard: Callable[[T], object] | None = None) -> T:
        """`fn()` on the store's executor, waited for here within the storage deadline (the
        wait for a thread included); past it DeadlinePassed, and a result that comes later
        goes to `discard`."""
        deadline = self._store._deadline
        started = self._store._executor.submit(fn)
        try:
            return started.result(timeout=deadline)
        except TimeoutError:
            if started.done():
                raise  # fn itself raised TimeoutError
            if not started.cancel() and discard is not None:
                started.add_done_callback(partial(_late, discard))
            raise DeadlinePassed(f"no answer within {deadline} s") from None


def _late(discard: Callable[[T], object], future: Future[T]) -> None:
    if not future.cancelled() and future.exception() is None:
        discard(future.result())


def _close_first(started: tuple[_Body, bytes] | None) -> None:
    if started is not None:
        started[0].close_when_idle()


class _Unanswered(Exception):
    """A presigned GET got no answer to take as it is: botocore asks again."""


def _range_fits(wanted: str, length: int) -> bool:
    """Whether `length` bytes can be the answer to the Range `wanted` (`bytes=A-B`)."""
    first, _, last = wanted.removeprefix("bytes=").partition("-")
    return 0 < length <= int(last) - int(first) + 1


@contextmanager
def _translated(key: str) -> Iterator[None]:
    try:
        yield
    except DeadlinePassed as exc:
        raise StorageTimeout(f"{key}: {exc}") from exc
    except ClientError as exc:
        raise _client_error(key, exc) from exc
    except _TRANSPORT_ERRORS as exc:
        raise StorageUnavailable(f"{key}: {exc}") from exc
    except BotoCoreError as exc:
        raise StorageError(f"{key}: {exc}") from exc


def _client_error(key: str, exc: ClientError) -> StorageError | ObjectNotFound:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    # NoSuchBucket is deliberately not ObjectNotFound: it is a broken deployment, not a key.
    if code in _NOT_FOUND:
        return ObjectNotFound(key)
    if code in _CHANGED or status == 412:
        return ObjectChanged(key)
    if code in _UNAVAILABLE or status >= 500:
        return StorageUnavailable(f"{key}: {code or status}")
    return StorageError(f"{key}: {code or status}: {exc}")


def _blob(data: bytearray) -> bytes:
    # botocore accepts a bytearray as a body (no copy of a whole part); the stubs omit it.
    return cast(bytes, data)


class _Body:
    """A GET's body, closed by whichever comes last: the reader or a read past its deadline.

    Closing a body another thread is reading blocks until that read returns (the buffer's
    lock), so closing one whose read outlived the deadline would block the event loop for
    the rest of the read timeout; the read closes it when it returns instead."""

    def __init__(self, body: StreamingBody) -> None:
        self._body = body
        self._lock = threading.Lock()
        self._reading = False
        self._abandoned = False

    def read(self, size: int) -> bytes:
        with self._lock:
            self._reading = True
        try:
            return self._body.read(size)
        finally:
            with self._lock:
                self._reading = False
                late = self._abandoned
            if late:
                self._body.close()

    def close_when_idle(self) -> None:
        with self._lock:
            self._abandoned = True
            if self._reading:
                return
        self._body.close()


def _settle_soon(
    loop: asyncio.AbstractEventLoop, done: asyncio.Future[bytes], outcome: bytes | BaseException
) -> None:
    """From a worker thread: `done` gets `outcome` on the loop, unless nobody waits any more
    (cancelled, or the loop is closed: the process is stopping)."""

    def settle() -> None:
        if done.done():
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    with suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)


def _expire(done: asyncio.Future[bytes], deadline: float) -> None:
    if not done.done():
        done.set_exception(DeadlinePassed(f"no answer within {deadline} s"))


def _close(body: StreamingBody | None) -> None:
    if body is not None:
        body.close()


def _next(pages: Iterator[T]) -> T | None:
    return next(pages, None)


def _now() -> datetime:
    return datetime.now(UTC)
