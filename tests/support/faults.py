"""A loopback TCP proxy in front of an S3 server that fails on demand.

    with fault_proxy(moto_endpoint) as proxy:
        proxy.fail("hang", after=2048)   # relay 2 KiB each way, then relay nothing more
        ...
        proxy.heal()                     # relay again; broken connections are dropped

Faults (`kind`): `refuse` (the port stops listening), `hang` (connections accepted, then
nothing relayed past `after` bytes in either direction), `reset` (a TCP RST once `after` bytes
went either way: a body cut mid-way; with `answers_only`, only the upstream's answers are
counted and cut, so a request body always arrives whole), `slowdown` (every request answered
503 `SlowDown`, as S3 does under load). `cuts` counts the resets. `stop()` then `start()`
keeps the port. A change of fault drops the connections open so far, so a client's pooled
connection meets the new fault at once rather than after the last one.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Literal
from urllib.parse import urlsplit

Fault = Literal["refuse", "hang", "reset", "slowdown"]

_SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
SLOWDOWN = (
    b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nConnection: close\r\n"
    + f"Content-Length: {len(_SLOWDOWN_BODY)}\r\n\r\n".encode()
    + _SLOWDOWN_BODY
)


def _reset(sock: socket.socket) -> None:
    """Close with an RST rather than a FIN, now.

    The other direction's pump may be blocked in `recv` on this socket, and Linux closes a
    socket (here: sends the RST) only once no call is using it: the RST then waited for the
    peer to send something or give up (a runner test waited 60 s for its answer's reset).
    SHUT_RD wakes that `recv` (it returns b"") and sends the peer nothing."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    sock.close()


class FaultProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.fault: Fault | None = None
        self.after = 0
        self.answers_only = False
        self.connections = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR: same port
        listener.settimeout(0.05)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        self._drop_all()

    def fail(self, kind: Fault, *, after: int = 0, answers_only: bool = False) -> None:
        """From now on, every connection meets `kind` (those open so far are dropped)."""
        if kind == "refuse":
            self.stop()
        elif self._listener is None:
            self.start()
        with self._lock:
            self.fault, self.after, self.answers_only = kind, after, answers_only
        self._drop_all()

    def heal(self) -> None:
        with self._lock:
            self.fault, self.after, self.answers_only = None, 0, False
        self._drop_all()
        if self._listener is None:
            self.start()

    def _drop_all(self) -> None:
        with self._lock:
            dropped, self._open = self._open, set()
        for sock in dropped:
            _reset(sock)

    def _accept(self) -> None:
        assert self._listener is not None
        listener = self._listener
        while not self._stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                fault, after, answers_only = self.fault, self.after, self.answers_only
                self.connections += 1
                self._open.add(client)
            args = (client, fault, after, answers_only)
            threading.Thread(target=self._serve, args=args, daemon=True).start()

    def _serve(
        self, client: socket.socket, fault: Fault | None, after: int, answers_only: bool
    ) -> None:
        if fault == "slowdown":
            with contextlib.suppress(OSError):
                client.recv(65536)
                client.sendall(SLOWDOWN)
                client.shutdown(socket.SHUT_WR)
                while client.recv(65536):  # let the client finish sending, then close
                    pass
            self._forget(client)
            return
        try:
            server = socket.create_connection(self.upstream)
        except OSError:
            _reset(client)
            return
        with self._lock:
            self._open.add(server)
        requests = None if answers_only else fault
        for source, sink, kind in ((client, server, requests), (server, client, fault)):
            args = (source, sink, kind, after)
            threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(
        self, source: socket.socket, sink: socket.socket, fault: Fault | None, after: int
    ) -> None:
        relayed = 0
        try:
            while data := source.recv(65536):
                if fault is None or relayed + len(data) <= after:
                    sink.sendall(data)
                    relayed += len(data)
                    continue
                sink.sendall(data[: max(0, after - relayed)])
                relayed = after
                if fault == "reset":
                    with self._lock:
                        self.cuts += 1
                    break
                # hang: keep reading (so the sender is never blocked) and relay nothing
                while source.recv(65536):
                    pass
                return
        except OSError:
            return
        if fault == "reset":
            self._forget(source)
            self._forget(sink)
            return
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def _forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.discard(sock)
        _reset(sock)


@contextlib.contextmanager
def fault_proxy(upstream_url: str) -> Iterator[FaultProxy]:
    """A started, healthy `FaultProxy` in front of `upstream_url`, stopped afterwards."""
    parts = urlsplit(upstream_url)
    proxy = FaultProxy((parts.hostname or "127.0.0.1", parts.port or 80))
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
