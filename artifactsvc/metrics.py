"""The service's Prometheus metrics, through prometheus-client.

Each app owns a `CollectorRegistry` (tests build many apps in one process). When
PROMETHEUS_MULTIPROC_DIR names a directory (read by prometheus-client itself, before the
workers start), values live in that directory's files and `/metrics` renders every
worker's through a `MultiProcessCollector`, so `serve --workers N` reports the sum; gauges
(`livesum`) then add up live processes, the zip pools' included. Lines other parts render
themselves (the index cache's) are appended as they are, per process.

Labels are bounded: a route is its template (`/api/v4/projects/{id}/jobs`), never a path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from artifactsvc.indexworkers import IndexWorkers
from artifactsvc.pools import ZipWork
from artifactsvc.ziprange import BucketCache

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SIZE_BUCKETS = tuple(float(1 << shift) for shift in range(10, 34, 2))  # 1 KiB .. 8 GiB
UPLOAD_ROUTE = "/api/v4/jobs/{id}/artifacts"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._sources: list[Callable[[], list[str]]] = []
        # The labelled children a request updates, by (route, method, status): `labels()`
        # validates and locks on every call, and this set is bounded as the labels are.
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        r = self.registry
        self._requests = Counter(
            "artifactsvc_http_requests",
            "HTTP requests served, by method and status class.",
            ["method", "status"],
            registry=r,
        )
        self._routes = Counter(
            "artifactsvc_http_route_requests",
            "HTTP requests served, by route template and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self._latency = Histogram(
            "artifactsvc_http_request_duration_seconds",
            "Time from a request's start to its last byte, by route template.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._sent = Counter(
            "artifactsvc_http_response_bytes", "Response body bytes sent.", registry=r
        )
        self._received = Counter(
            "artifactsvc_http_request_bytes", "Request body bytes received.", registry=r
        )
        self._uploads = Histogram(
            "artifactsvc_upload_size_bytes",
            "Bodies of accepted artifact uploads.",
            buckets=SIZE_BUCKETS,
            registry=r,
        )
        self._in_flight = Gauge(
            "artifactsvc_http_in_flight",
            "Requests (streams included) being answered now.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self._storage = Counter(
            "artifactsvc_storage_requests", "Object storage requests.", ["verb"], registry=r
        )
        self._storage_errors = Counter(
            "artifactsvc_storage_errors",
            "Object storage requests that failed, by verb and error class.",
            ["verb", "error"],
            registry=r,
        )

    def include_zip_work(self, work: ZipWork) -> None:
        """The zip pools' threads, busy threads and queued tasks, and the bytes they inflated
        and the reads they cancelled, kept in our gauges and counters as they change."""
        r = self.registry
        threads = Gauge(
            "artifactsvc_zip_threads",
            "Threads of each zip pool.",
            ["pool"],
            multiprocess_mode="livesum",
            registry=r,
        )
        busy = Gauge(
            "artifactsvc_zip_threads_busy",
            "Zip threads running a task.",
            ["pool"],
            multiprocess_mode="livesum",
            registry=r,
        )
        queued = Gauge(
            "artifactsvc_zip_tasks_queued",
            "Zip tasks waiting for a thread.",
            ["pool"],
            multiprocess_mode="livesum",
            registry=r,
        )
        for pool in work.pools:
            threads.labels(pool.name).set(pool.threads)
            pool.busy_level = busy.labels(pool.name)
            pool.queued_level = queued.labels(pool.name)
        inflated = Counter(
            "artifactsvc_zip_inflated_bytes", "Bytes inflated by single-file reads.", registry=r
        )
        cancelled = Counter(
            "artifactsvc_zip_cancelled", "Zip work stopped because its client left.", registry=r
        )
        work.inflated.mirror = inflated.inc
        work.cancelled.mirror = cancelled.inc

    def include_index_workers(self, workers: IndexWorkers) -> None:
        """The index builds' worker processes alive, and those ended mid-build."""
        alive = Gauge(
            "artifactsvc_index_workers",
            "Worker processes that build archive indexes (INDEX_PROCESSES), busy or idle.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        killed = Counter(
            "artifactsvc_index_workers_killed",
            "Index worker processes ended mid-build: their caller left, they died, or they"
            " broke off.",
            registry=self.registry,
        )
        workers.on_alive = alive.set
        workers.on_killed = killed.inc

    def include(self, source: Callable[[], list[str]]) -> None:
        """Lines another part renders itself (the zip pools' gauges), appended to ours."""
        self._sources.append(source)

    def include_cache(self, cache: BucketCache) -> None:
        """The index bucket cache's hits and misses (a miss costs a ranged GET of the sidecar)."""

        def render() -> list[str]:
            name = "artifactsvc_index_cache_lookups_total"
            return [
                f"# HELP {name} Index bucket lookups in this process's cache.",
                f"# TYPE {name} counter",
                f'{name}{{result="hit"}} {cache.hits}',
                f'{name}{{result="miss"}} {cache.misses}',
            ]

        self.include(render)

    def started(self) -> None:
        self._in_flight.inc()

    def request(
        self,
        method: str,
        status: int,
        sent: int,
        *,
        route: str = "unmatched",
        received: int = 0,
        seconds: float = 0.0,
    ) -> None:
        self._in_flight.dec()
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self._requests.labels(method, f"{status // 100}xx"),
                self._routes.labels(route, method, str(status)),
                self._latency.labels(route, method),
            )
            if len(self._children) < 4096:  # a client's made-up methods stay uncached
                self._children[key] = children
        requests, routes, latency = children
        requests.inc()
        routes.inc()
        latency.observe(seconds)
        self._sent.inc(sent)
        self._received.inc(received)
        if route == UPLOAD_ROUTE and status == 201:
            self._uploads.observe(received)

    def storage_request(self, verb: str) -> None:
        self._storage.labels(verb).inc()

    def storage_error(self, verb: str, error: str) -> None:
        self._storage_errors.labels(verb, error).inc()

    def render(self) -> str:
        try:
            combined = CollectorRegistry()
            MultiProcessCollector(combined)  # type: ignore[no-untyped-call]
            text = generate_latest(combined).decode()
        except ValueError:  # PROMETHEUS_MULTIPROC_DIR unset: this process's values
            text = generate_latest(self.registry).decode()
        lines = [text.rstrip("\n")]
        for source in self._sources:
            lines += source()
        return "\n".join(lines) + "\n"
