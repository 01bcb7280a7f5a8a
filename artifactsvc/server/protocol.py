"""uvicorn's httptools protocol with the bounds uvicorn does not have.

uvicorn gives an idle keep-alive timeout (`timeout_keep_alive`) and nothing else a
connection must respect: no time limit on the request line and headers (a slowloris client
sending a byte a second holds its connection for ever), no limit on their size (httptools
keeps every header it is fed), and `limit_concurrency`, which still accepts every connection
and answers 503 once the count is reached, counting the idle and the slow ones too, so that a
few thousand silent connections turn every real request into a 503. (Its one parser limit,
`h11_max_incomplete_event_size`, applies to h11 only; httptools is the parser installed.)
Here, per connection:

* header timeout: from connecting, or from a request's first byte, to the end of its
  headers (`HTTP_HEADER_TIMEOUT`); past it the connection is closed;
* header size: more than `HTTP_MAX_HEADER_BYTES` before the headers end is a 431, closed;
* connection cap: at `HTTP_MAX_CONNECTIONS`, a new connection closes the longest-idle one
  (between requests, or still sending its headers: what a slow or silent client holds) and
  is only refused, with a 503, when every connection is in a request;
* gentle close: when a response closes its connection while the request's body is still
  arriving (an early refusal, see api/middleware.py), the write side is shut and incoming
  bytes are read and dropped for a moment before the close; closing with unread bytes would
  send a reset, which can destroy the answer before the client reads it;
* draining (lifecycle.draining): every response closes its connection.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from artifactsvc.lifecycle import Lifecycle
from artifactsvc.settings import Settings

# After an early answer: how long, and how much, of the rest of a request body is read and
# dropped before the connection closes. Enough for the client to read the answer; a client
# that keeps sending is cut off after either.
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float
    max_header_bytes: int
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            settings.http_header_timeout,
            settings.http_max_header_bytes,
            settings.http_max_connections,
        )


@functools.cache
def _limits_from_env() -> ConnectionLimits:
    # Worker processes of `serve --workers N` build the protocol from uvicorn's pickled
    # config: the class travels, its limits are read again from the environment it inherits.
    return ConnectionLimits.from_settings(Settings.from_env())


def _answer(status: int, reason: str) -> bytes:
    body = f'{{"message":"{status} {reason}"}}'.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class EdgeProtocol(HttpToolsProtocol):
    """See the module docstring. `protocol_class` binds limits and a lifecycle to it."""

    limits: ClassVar[ConnectionLimits | None] = None
    lifecycle: ClassVar[Lifecycle | None] = None

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = self.limits or _limits_from_env()
        self._raw: asyncio.Transport | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._linger_timer: asyncio.TimerHandle | None = None
        self._awaiting_head = True  # from connecting, or a request's first byte, to its headers
        self._head_bytes = 0
        self._idle_since = time.monotonic()
        self.lingering = False
        self._lingered = 0

    # -- connections -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self._limits.max_connections
        if full and not self._evict_idlest():
            super().connection_made(transport)
            self.logger.warning("Connection cap (%d) reached, all busy.", len(self.connections))
            transport.write(_answer(503, "Service Unavailable"))
            transport.close()
            return
        super().connection_made(transport)
        self._raw = transport
        self.transport = GentleTransport(transport, self)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._head_timer, self._linger_timer):
            if timer is not None:
                timer.cancel()
        super().connection_lost(exc)

    def busy(self) -> bool:
        """In a request (or with one queued behind it), as opposed to idle or still sending
        its headers."""
        in_request = self.cycle is not None and not self.cycle.response_complete
        return in_request or bool(self.pipeline)

    def _evict_idlest(self) -> bool:
        idle = [
            c
            for c in self.connections
            if isinstance(c, EdgeProtocol) and c._raw is not None and not c.busy()
        ]
        if not idle:
            return False
        victim = min(idle, key=lambda c: c._idle_since)
        victim.connections.discard(victim)  # at once: the slot is this connection's now
        assert victim._raw is not None
        victim._raw.close()
        return True

    # -- the request head --------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        # Armed once per head: a client cannot push the deadline back by sending more bytes.
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self._limits.header_timeout, self._head_timed_out
            )

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._awaiting_head and self._raw is not None and not self._raw.is_closing():
            self.logger.info("Closing a connection whose request head took too long.")
            self._raw.close()

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES and self._raw is not None:
                self._raw.close()
            return
        if self._awaiting_head:
            self._head_bytes += len(data)
        super().data_received(data)
        too_long = self._awaiting_head and self._head_bytes > self._limits.max_header_bytes
        if too_long and self._raw is not None and not self._raw.is_closing():
            self._raw.write(_answer(431, "Request Header Fields Too Large"))
            self._raw.close()

    def eof_received(self) -> None:
        if self.lingering and self._raw is not None:
            self._raw.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._awaiting_head = True
        self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().on_headers_complete()
        if self.lifecycle is not None and self.lifecycle.draining and self.cycle is not None:
            self.cycle.keep_alive = False  # move clients to the replicas that stay

    def on_response_complete(self) -> None:
        self._idle_since = time.monotonic()
        super().on_response_complete()

    # -- closing -----------------------------------------------------------------------------

    def should_linger(self) -> bool:
        raw = self._raw
        if self.lingering or raw is None or raw.is_closing() or not raw.can_write_eof():
            return False
        return self.cycle is not None and self.cycle.more_body and not self.cycle.disconnected

    def linger(self) -> None:
        assert self._raw is not None
        self.lingering = True
        self._raw.write_eof()  # after what is buffered: the answer goes out whole
        self.flow.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self._raw.close)


class GentleTransport(asyncio.Transport):
    """The connection's transport as uvicorn uses it; `close()` lingers when the protocol
    says so (see the module docstring). Everything else is the real transport's."""

    def __init__(self, raw: asyncio.Transport, protocol: EdgeProtocol) -> None:
        super().__init__()
        self._raw = raw
        self._protocol = protocol

    def close(self) -> None:
        if self._protocol.should_linger():
            self._protocol.linger()
        else:
            self._raw.close()

    def is_closing(self) -> bool:
        return self._protocol.lingering or self._raw.is_closing()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._raw.write(data)

    def abort(self) -> None:
        self._raw.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._raw.get_extra_info(name, default)

    def can_write_eof(self) -> bool:
        return self._raw.can_write_eof()

    def write_eof(self) -> None:
        self._raw.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._raw.set_write_buffer_limits(high, low)

    def pause_reading(self) -> None:
        self._raw.pause_reading()

    def resume_reading(self) -> None:
        self._raw.resume_reading()

    def is_reading(self) -> bool:
        return self._raw.is_reading()


def protocol_class(limits: ConnectionLimits, lifecycle: Lifecycle | None) -> type[EdgeProtocol]:
    """EdgeProtocol bound to these limits and this lifecycle (uvicorn builds one a
    connection, from the class alone)."""
    return type("BoundEdgeProtocol", (EdgeProtocol,), {"limits": limits, "lifecycle": lifecycle})
