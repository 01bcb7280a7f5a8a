"""gitlab-runner's calls, byte for byte: the test client that sends what the runner sends.

Each method mirrors one function of gitlab-runner's source (gitlabhq/gitlab-runner):

network/gitlab.go
    UploadRawArtifacts      POST jobs/:id/artifacts?<query>; `Job-Token` header; the query
                            is `uploadRawArtifactsQuery` (expire_in, artifact_format,
                            artifact_type, each only when set) through Go's
                            `url.Values.Encode` (keys sorted, `QueryEscape`: space as `+`),
                            always after a `?`, even empty (`fmt.Sprintf("...?%s")`); the
                            body is `createArtifactsForm`: ONE part written by
                            `multipart.Writer.CreateFormFile("file", BaseName)` fed from an
                            `io.Pipe`, so the length is unknown and Go sends it chunked, with
                            no Content-Length. `determineUploadState` maps the status.
    DownloadArtifacts       GET jobs/:id/artifacts?direct_download=true (only when the flag
                            is given); Go's client follows a redirect, Job-Token included.
    PatchTrace              PATCH jobs/:id/trace?debug_trace=false; `Content-Range:
                            START-END` (END inclusive), `text/plain`, a known length.
    UpdateJob               PUT jobs/:id, JSON `common.UpdateJobRequest` (token, state,
                            failure_reason, checksum, output{checksum, bytesize},
                            exit_code; empty ones omitted), no Accept header.
network/client.go (`client.do`): `User-Agent: gitlab-runner ...`; `Content-Type` only with
    a body. Go's transport adds `Accept-Encoding: gzip` (and would inflate a gzip answer).
commands/helpers/artifacts_uploader.go: `Run` + `shouldRetry`: a fresh archive stream per
    try; UploadFailed (any status but 201/307/403/413/503, or a broken connection) is
    retried up to 3 tries, 503 up to 6; 403 and 413 end at once.
commands/helpers/artifacts_downloader.go: `directDownloadFlag`: direct_download=true on
    the first try only; retried twice more on DownloadFailed.

Timing (backoff sleeps) is left out: a test has no reason to wait.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Any
from urllib.parse import quote_plus, urljoin, urlsplit

USER_AGENT = "gitlab-runner 17.11.0 (17-11-stable; go1.23.6; linux/amd64)"
COPY_BUFFER = 32 * 1024  # io.Copy's buffer: how the archive reaches the pipe


class UploadState(Enum):
    """common.UploadState, as `determineUploadState` derives it."""

    SUCCEEDED = "succeeded"
    REDIRECTED = "redirected"
    FORBIDDEN = "forbidden"
    TOO_LARGE = "too large"
    SERVICE_UNAVAILABLE = "service unavailable"
    FAILED = "failed"


@dataclass(frozen=True)
class ArtifactsOptions:
    """common.ArtifactsOptions: what `gitlab-runner artifacts-uploader` was given."""

    base_name: str = "artifacts.zip"
    expire_in: str = ""
    format: str = ""
    type: str = ""
    # Not sent by gitlab-runner's uploader; GitLab's API takes it (`optional :accessibility`
    # in lib/api/ci/runner.rb), so a test may add it to the same query.
    accessibility: str = ""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    target: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


def encode_values(values: dict[str, str]) -> str:
    """Go's `url.Values.Encode`: keys sorted, keys and values through `url.QueryEscape`."""
    return "&".join(
        f"{quote_plus(key, safe='')}={quote_plus(value, safe='')}"
        for key, value in sorted(values.items())
    )


def upload_query(options: ArtifactsOptions) -> str:
    """network/gitlab.go `uploadRawArtifactsQuery`: only the options that are set."""
    values = {}
    if options.expire_in:
        values["expire_in"] = options.expire_in
    if options.format:
        values["artifact_format"] = options.format
    if options.type:
        values["artifact_type"] = options.type
    if options.accessibility:
        values["accessibility"] = options.accessibility
    return encode_values(values)


def _escape_quotes(text: str) -> str:
    """mime/multipart `escapeQuotes`."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def artifacts_form(chunks: Iterable[bytes], base_name: str) -> tuple[Iterator[bytes], str]:
    """`createArtifactsForm`: the body Go's multipart.Writer streams, and its Content-Type.
    The boundary is `randomBoundary` (30 random bytes, hex); the part's headers are written
    sorted by name, as `CreatePart` writes them; `Close` ends it."""
    boundary = secrets.token_bytes(30).hex()

    def body() -> Iterator[bytes]:
        yield (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; '
            f'filename="{_escape_quotes(base_name)}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for chunk in chunks:
            for at in range(0, len(chunk), COPY_BUFFER):
                yield chunk[at : at + COPY_BUFFER]
        yield f"\r\n--{boundary}--\r\n".encode()

    return body(), f"multipart/form-data; boundary={boundary}"


class RunnerClient:
    """One runner talking to `base_url` (the instance URL; the API is under /api/v4/)."""

    def __init__(self, base_url: str, *, timeout: float = 60) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    # -- transport ---------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes | Iterator[bytes] | None = None,
    ) -> Answer:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query or url.endswith("?") else "")
        connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=self.timeout
        )
        try:
            # Go's header set, in Go's order; nothing http.client would add of its own.
            connection.putrequest(method, target, skip_accept_encoding=True)
            sent = [("User-Agent", USER_AGENT)]
            if isinstance(body, bytes):
                sent.append(("Content-Length", str(len(body))))
            elif body is not None:
                sent.append(("Transfer-Encoding", "chunked"))
            sent += [*headers, ("Accept-Encoding", "gzip")]
            for name, value in sent:
                connection.putheader(name, value)
            connection.endheaders()
            if isinstance(body, bytes):
                connection.send(body)
            elif body is not None:
                for chunk in body:
                    if chunk:
                        connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                connection.send(b"0\r\n\r\n")
            response = connection.getresponse()
            payload = response.read()
            answer_headers = {name.lower(): value for name, value in response.getheaders()}
        finally:
            connection.close()
        if answer_headers.get("content-encoding") == "gzip":
            payload = zlib.decompress(payload, 16 + zlib.MAX_WBITS)  # Go's transparent gunzip
        return Answer(response.status, answer_headers, payload, sent, target)

    def _api(self, uri: str) -> str:
        return f"{self.base_url}/api/v4/{uri}"

    # -- network/gitlab.go -------------------------------------------------------------------

    def upload_raw_artifacts(
        self, job_id: int, token: str, chunks: Iterable[bytes], options: ArtifactsOptions
    ) -> tuple[UploadState, Answer]:
        body, content_type = artifacts_form(chunks, options.base_name)
        answer = self._send(
            "POST",
            self._api(f"jobs/{job_id}/artifacts?{upload_query(options)}"),
            [("Content-Type", content_type), ("Job-Token", token)],
            body,
        )
        return determine_upload_state(answer), answer

    def download_artifacts(
        self, job_id: int, token: str, direct_download: bool | None = None
    ) -> Answer:
        query = (
            ""
            if direct_download is None
            else encode_values({"direct_download": str(direct_download).lower()})
        )
        url = self._api(f"jobs/{job_id}/artifacts?{query}")
        headers = [("Job-Token", token)]
        for _ in range(10):  # net/http's redirect limit
            answer = self._send("GET", url, headers)
            location = answer.headers.get("location")
            if answer.status not in (301, 302, 303, 307, 308) or not location:
                return answer
            url = urljoin(url, location)
        raise AssertionError("stopped after 10 redirects")

    def patch_trace(self, job_id: int, token: str, content: bytes, start_offset: int) -> Answer:
        end = start_offset + len(content)
        return self._send(
            "PATCH",
            self._api(f"jobs/{job_id}/trace?{encode_values({'debug_trace': 'false'})}"),
            [
                ("Content-Type", "text/plain"),
                ("Content-Range", f"{start_offset}-{end - 1}"),
                ("Job-Token", token),
            ],
            content,
        )

    def update_job(
        self,
        job_id: int,
        token: str,
        state: str,
        *,
        failure_reason: str = "",
        trace: bytes = b"",
        exit_code: int = 0,
    ) -> Answer:
        checksum = f"crc32:{zlib.crc32(trace):08x}"
        request: dict[str, Any] = {
            "info": {"name": "gitlab-runner", "version": "17.11.0", "executor": "shell"},
            "token": token,
            "state": state,
            "checksum": checksum,
            "output": {"checksum": checksum, "bytesize": len(trace)},
        }
        if failure_reason:
            request["failure_reason"] = failure_reason
        if exit_code:
            request["exit_code"] = exit_code
        return self._send(
            "PUT",
            self._api(f"jobs/{job_id}"),
            [("Content-Type", "application/json")],
            json.dumps(request).encode(),
        )

    # -- commands/helpers --------------------------------------------------------------------

    def artifacts_uploader(
        self,
        job_id: int,
        token: str,
        archive: Callable[[], Iterable[bytes]],
        options: ArtifactsOptions,
        *,
        send: Callable[[], tuple[UploadState, Answer]] | None = None,
    ) -> list[UploadState]:
        """`ArtifactsUploaderCommand.Execute`: tries until done or `shouldRetry` says no;
        returns the state of every try. `archive` makes a fresh stream per try; `send`, when
        given, replaces the first try (a try whose answer was lost on the way)."""
        states: list[UploadState] = []
        while True:
            if send is not None and not states:
                state, _ = send()
            else:
                state, _ = self.upload_raw_artifacts(job_id, token, archive(), options)
            states.append(state)
            limit = {UploadState.FAILED: 3, UploadState.SERVICE_UNAVAILABLE: 6}.get(state, 0)
            if len(states) >= limit:
                return states


def determine_upload_state(answer: Answer) -> UploadState:
    """network/gitlab.go `determineUploadState`."""
    return {
        201: UploadState.SUCCEEDED,
        307: UploadState.REDIRECTED,
        403: UploadState.FORBIDDEN,
        413: UploadState.TOO_LARGE,
        503: UploadState.SERVICE_UNAVAILABLE,
    }.get(answer.status, UploadState.FAILED)


def lost_answer(send: Callable[[], object]) -> Callable[[], tuple[UploadState, Answer]]:
    """A try whose request reached the server but whose answer never came back (the
    connection broke, or a proxy answered 502): to the runner, UploadFailed."""

    def attempt() -> tuple[UploadState, Answer]:
        with contextlib.suppress(OSError, http.client.HTTPException):
            send()
        return UploadState.FAILED, Answer(502, {}, b"")

    return attempt
