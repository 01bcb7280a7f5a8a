"""OpenTelemetry tracing, exported over OTLP/HTTP when ARTIFACTSVC_OTLP_ENDPOINT is set.

Off (the default), `open_tracing` returns None: no opentelemetry module is imported, and the
seams that would make spans (api/middleware.py, objects/instrumented.py, the metadata
database) are handed nothing, so a request pays one `is None` test.

On, each process (each `--workers` worker, each background command) has its own tracer
provider, never the global one (tests build many apps in one process), and a batch span
processor that exports to `{endpoint}/v1/traces`. The SDK reads the standard variables
itself: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the resource), OTEL_TRACES_SAMPLER
(the sampler), OTEL_BSP_* (batching), OTEL_EXPORTER_OTLP_HEADERS / _TIMEOUT / _COMPRESSION
(the exporter). `shutdown` flushes what is still queued.

Spans: `{METHOD} {route template}` (kind SERVER) for each HTTP request, its parent the
incoming W3C `traceparent` if any, and `traceparent` sent back on the response; under it
`metadata read` / `metadata write` for each metadata transaction and `storage {verb}` for
each object-storage call; `artifactsvc {command}` for `expire`, `gc` and `migrate`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from artifactsvc.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

SERVICE_NAME = "artifactsvc"

Headers = list[tuple[bytes, bytes]]


def open_tracing(settings: Settings) -> Tracing | None:
    """A `Tracing` exporting to the configured endpoint, or None (nothing imported) when unset."""
    if settings.otlp_endpoint is None:
        return None
    return Tracing(settings.otlp_endpoint)


class Tracing:
    def __init__(self, endpoint: str) -> None:
        from opentelemetry import context
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import OTELResourceDetector, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.trace import SpanKind, Status, StatusCode
        from opentelemetry.trace.propagation import set_span_in_context
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES win over our default name.
        resource = Resource({"service.name": SERVICE_NAME}).merge(OTELResourceDetector().detect())
        self.provider: TracerProvider = TracerProvider(resource=resource)
        self.provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces"))
        )
        self.tracer: Tracer = self.provider.get_tracer("artifactsvc")
        self._propagator = TraceContextTextMapPropagator()
        self._kind = SpanKind
        self._error = Status(StatusCode.ERROR)
        self._in_context = set_span_in_context
        self._context = context

    # -- HTTP requests (api/middleware.py) -------------------------------------------------

    def start_request(self, method: str, headers: Headers) -> Span:
        """The request's SERVER span, a child of the incoming `traceparent` if valid, named
        `{METHOD}` until the route is known (`end_request` renames it)."""
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in headers
            if name in (b"traceparent", b"tracestate")
        }
        parent = self._propagator.extract(carrier) if carrier else None
        return self.tracer.start_span(
            method,
            context=parent,
            kind=self._kind.SERVER,
            attributes={"http.request.method": method},
        )

    def enter(self, span: Span) -> object:
        """Makes `span` the parent of the spans started from here on in this task (metadata,
        storage); returns what `leave` needs to undo it."""
        return self._context.attach(self._in_context(span))

    def leave(self, token: object) -> None:
        self._context.detach(token)  # type: ignore[arg-type]

    def response_headers(self, span: Span) -> Headers:
        """`traceparent` (and `tracestate`) naming the request's span, for the response."""
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=self._in_context(span))
        return [(name.encode(), value.encode()) for name, value in carrier.items()]

    def trace_id(self, span: Span) -> str:
        """The span's trace id as a traceparent writes it, for the access log line."""
        return f"{span.get_span_context().trace_id:032x}"

    def end_request(self, span: Span, method: str, route: str, status: int) -> None:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            span.set_status(self._error)
        span.end()

    # -- calls under a request or a command --------------------------------------------------

    def start_call(
        self, name: str, attributes: dict[str, Any]
    ) -> Callable[[BaseException | None], None]:
        """A CLIENT span, child of the current one; the function returned ends it (with the
        error, if the call failed)."""
        span = self.tracer.start_span(name, kind=self._kind.CLIENT, attributes=attributes)

        def finish(error: BaseException | None = None) -> None:
            if error is not None and isinstance(error, Exception):
                span.record_exception(error)
                span.set_status(self._error)
            span.end()

        return finish

    def storage(self, verb: str, key: str) -> Callable[[BaseException | None], None]:
        return self.start_call(f"storage {verb}", {"artifactsvc.storage.key": key})

    @contextlib.contextmanager
    def metadata(self, kind: str, query: str) -> Iterator[None]:
        """A metadata transaction (`read` or `write`); `query` names the function it runs."""
        finish = self.start_call(f"metadata {kind}", {"code.function": query})
        try:
            yield
        except BaseException as error:
            finish(error)
            raise
        finish(None)

    @contextlib.contextmanager
    def command(self, name: str) -> Iterator[None]:
        """The root span of a background command (`expire`, `gc`, `migrate`)."""
        with self.tracer.start_as_current_span(f"artifactsvc {name}", kind=self._kind.INTERNAL):
            yield

    def shutdown(self) -> None:
        """Exports what is queued (bounded by the exporter's timeout), then stops."""
        self.provider.shutdown()


@contextlib.contextmanager
def command_span(tracing: Tracing | None, name: str) -> Iterator[None]:
    """`tracing.command(name)`, or nothing when tracing is off."""
    if tracing is None:
        yield
        return
    with tracing.command(name):
        yield
