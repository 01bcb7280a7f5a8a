"""What travels on the wire: requests sent byte for byte, multipart bodies as a runner sends
them, and a loopback listener that never answers (a relay that fails on demand is
`tests/support/faults.py`)."""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

BOUNDARY = "artifactsvc-test-boundary-7d3f"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    complete: bool  # the body arrived whole (Content-Length or chunked framing honoured)
    seconds: float


def raw_request(
    base: str,
    target: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    timeout: float = 20,
) -> Reply:
    """Send `target` byte for byte (no client-side normalisation) and read the reply."""
    parts = urlsplit(base)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        response = http.client.HTTPResponse(sock, method=method)
        response.begin()
        complete = True
        try:
            body = response.read()
        except http.client.IncompleteRead as error:
            body, complete = error.partial, False
        except (ConnectionResetError, http.client.HTTPException):
            body, complete = b"", False
        return Reply(response.status, response.headers, body, complete, time.monotonic() - started)


def _field(name: str, value: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
    ).encode()


def _file_head(filename: str) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()


def multipart(
    data: bytes,
    *,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    filename: str = "artifacts.zip",
) -> bytes:
    """A form with `file` (Content-Type MULTIPART); `after` fields follow the file part, as
    curl -F sends them."""
    return b"".join(multipart_stream([data], before=before, after=after, filename=filename))


def multipart_stream(
    chunks: Iterable[bytes],
    *,
    before: dict[str, str] | None = None,
    after: dict[str, str] | None = None,
    filename: str = "artifacts.zip",
) -> Iterator[bytes]:
    """`multipart`, generated as it is sent: the file's bytes are never held whole."""
    for name, value in (before or {}).items():
        yield _field(name, value)
    yield _file_head(filename)
    yield from chunks
    yield b"\r\n"
    for name, value in (after or {}).items():
        yield _field(name, value)
    yield f"--{BOUNDARY}--\r\n".encode()


@contextlib.contextmanager
def black_hole() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@dataclass
class EarlyAnswer:
    """What a client that kept sending its body got: the answer, and how much it had sent."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes
    sent: int  # body bytes sent before the answer arrived (or the server stopped taking them)


def chunked(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """`chunks` in HTTP/1.1 chunked framing, ended by the last chunk."""
    for chunk in chunks:
        if chunk:
            yield f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    yield b"0\r\n\r\n"


def send_until_answered(
    base: str, head: list[str], body: Iterable[bytes], *, timeout: float = 30
) -> EarlyAnswer:
    """Sends the request line and headers `head` (Host added), then `body` piece by piece
    until the server answers or stops reading, and reads the answer. A body of gigabytes is
    never generated past that point."""
    parts = urlsplit(base)
    lines = [head[0], f"Host: {parts.netloc}", *head[1:]]
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        for chunk in body:
            if select.select([sock], [], [], 0)[0]:
                break  # an answer (or the end of the connection) is waiting
            try:
                sock.sendall(chunk)
            except OSError:  # reset, broken pipe, or no longer read at all (timeout)
                break
            sent += len(chunk)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return EarlyAnswer(response.status, response.headers, response.read(), sent)
