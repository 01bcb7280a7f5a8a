"""A few Prometheus counters, rendered in the text exposition format. No client library:
the set is small and fixed, and this keeps the hot path to a dict increment."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._bytes_sent = 0
        self._storage: Counter[str] = Counter()
        self._sources: list[Callable[[], list[str]]] = []

    def include(self, source: Callable[[], list[str]]) -> None:
        """Lines another part renders itself (the zip pools' gauges), appended to ours."""
        self._sources.append(source)

    def request(self, method: str, status: int, sent: int) -> None:
        with self._lock:
            self._requests[(method, f"{status // 100}xx")] += 1
            self._bytes_sent += sent

    def storage_request(self, verb: str) -> None:
        with self._lock:
            self._storage[verb] += 1

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP artifactsvc_http_requests_total HTTP requests served.",
                "# TYPE artifactsvc_http_requests_total counter",
            ]
            for (method, status), count in sorted(self._requests.items()):
                labels = f'method="{method}",status="{status}"'
                lines.append(f"artifactsvc_http_requests_total{{{labels}}} {count}")
            lines += [
                "# HELP artifactsvc_http_response_bytes_total Response body bytes sent.",
                "# TYPE artifactsvc_http_response_bytes_total counter",
                f"artifactsvc_http_response_bytes_total {self._bytes_sent}",
                "# HELP artifactsvc_storage_requests_total Object storage requests.",
                "# TYPE artifactsvc_storage_requests_total counter",
            ]
            for verb, count in sorted(self._storage.items()):
                lines.append(f'artifactsvc_storage_requests_total{{verb="{verb}"}} {count}')
        for source in self._sources:
            lines += source()
        return "\n".join(lines) + "\n"
