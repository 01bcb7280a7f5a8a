"""The process's phase as the edge must know it: serving, or draining after SIGTERM.

One object per app (`app.state.lifecycle`), shared with the server that runs it
(server/shutdown.py): while `draining`, readiness answers 503 and every response closes its
connection, so that load balancers move away while in-flight requests finish.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Lifecycle:
    # A plain attribute: the server sets it from a signal handler.
    draining: bool = False
