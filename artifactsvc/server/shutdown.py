"""Serving one process with a shutdown that drains: what SIGTERM does, and in what order.

uvicorn on SIGTERM closes its listener at once, so a readiness probe during the drain is
refused rather than answered, and afterwards it re-raises the signal, so the process ends
killed by it (not exit 0). Here, on SIGTERM:

1. `lifecycle.draining` is set: readiness answers 503, every response closes its connection,
   idle keep-alive connections are closed; the listener stays open, so probes and requests a
   load balancer still sends are answered;
2. once nothing is in flight and `SHUTDOWN_DRAIN` seconds have passed, or when
   `SHUTDOWN_GRACE` seconds have (whichever comes first), uvicorn's own shutdown runs with
   what is left of the grace: listener closed, in-flight requests given that long;
3. what is still running then is cancelled (its connection aborted: a cut download never
   looks complete), the app's lifespan ends, and the process exits 0.

SIGINT (Ctrl+C) skips the drain; a second one forces the exit, as with uvicorn.
Kubernetes: `terminationGracePeriodSeconds` must exceed preStop + SHUTDOWN_GRACE
(k8s/deployment.yaml says how much).
"""

from __future__ import annotations

import math
import signal
import time
from types import FrameType

import uvicorn
from starlette.applications import Starlette

from artifactsvc.lifecycle import Lifecycle
from artifactsvc.server.protocol import ConnectionLimits, EdgeProtocol, protocol_class
from artifactsvc.settings import Settings


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, lifecycle: Lifecycle, *, drain: float, grace: float
    ) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain = drain
        self.grace = grace
        self._drain_started: float | None = None
        self._closed_idle = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: only flags here; on_tick (on the loop) does the rest. The
        # signal is not kept for re-raising (uvicorn's default), so the exit code stays 0.
        if sig == signal.SIGTERM and self._drain_started is None and not self.should_exit:
            self._drain_started = time.monotonic()
            self.lifecycle.draining = True
            return
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
            return
        self._exit_within(self._left())

    def _left(self) -> float:
        if self._drain_started is None:
            return self.grace
        return self.grace - (time.monotonic() - self._drain_started)

    def _exit_within(self, seconds: float) -> None:
        # uvicorn waits `timeout_graceful_shutdown` for in-flight tasks, then cancels them.
        self.config.timeout_graceful_shutdown = max(1, math.ceil(seconds))
        self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        if self._drain_started is not None and not self.should_exit:
            if not self._closed_idle:
                self._closed_idle = True
                for connection in list(self.server_state.connections):
                    connection.shutdown()  # idle ones close; busy ones close after answering
            elapsed = time.monotonic() - self._drain_started
            quiet = not self.server_state.tasks
            if (quiet and elapsed >= self.drain) or elapsed >= self.grace:
                self._exit_within(self._left())
        return await super().on_tick(counter)


def serve_app(
    app: Starlette, lifecycle: Lifecycle, settings: Settings, host: str, port: int
) -> int:
    """Serves `app` in this process until a signal ends it; 0 after a clean shutdown."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol_class(ConnectionLimits.from_settings(settings), lifecycle),
        ws="none",
        lifespan="on",
        access_log=False,  # uvicorn's prints query strings, which may carry tokens: ours redacts
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=settings.http_keepalive_timeout,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace),
    )
    server = DrainingServer(
        config, lifecycle, drain=settings.shutdown_drain, grace=settings.shutdown_grace
    )
    server.run()
    return 0 if server.started else 3  # uvicorn's STARTUP_FAILURE


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """`--workers N`: uvicorn's supervisor, each worker building its own app from the
    environment, with the same connection bounds (EdgeProtocol reads them from the
    environment too). Its workers shut down as uvicorn does: listener closed at once,
    in-flight requests given SHUTDOWN_GRACE; the drain window needs one process a pod."""
    uvicorn.run(
        "artifactsvc.cli:app_from_env",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        http=EdgeProtocol,
        ws="none",
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=settings.http_keepalive_timeout,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace),
    )
    return 0
