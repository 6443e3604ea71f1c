"""OpenTelemetry set-up from the standard `OTEL_*` variables, and trace-context helpers.

Export happens only when an exporter endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), or when `PAYFLOW_TRACE_FILE` names a JSON-lines file (used by
the end-to-end tests to collect spans from every process). With an exporter, traces are sampled
parent-based by `PAYFLOW_TRACE_SAMPLE_RATIO` (default 1.0: every payment reaches Jaeger). Without
one, nothing is recorded: trace ids are still made and propagated (responses, logs, the transfer's
`trace_id`), but no span is built only to be dropped, and the store clients are not instrumented.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, Sampler, TraceIdRatioBased

logger = logging.getLogger(__name__)

_provider: TracerProvider | None = None


class JsonLinesSpanExporter(SpanExporter):
    """Appends one JSON object per finished span to a file (several processes may share it)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            if ctx is None:
                continue
            parent = span.parent
            lines.append(
                json.dumps(
                    {
                        "name": span.name,
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_span_id": format(parent.span_id, "016x") if parent else None,
                        "service": span.resource.attributes.get("service.name"),
                        "kind": span.kind.name,
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": {k: _plain(v) for k, v in (span.attributes or {}).items()},
                        "links": [
                            {
                                "trace_id": format(link.context.trace_id, "032x"),
                                "span_id": format(link.context.span_id, "016x"),
                            }
                            for link in span.links
                        ],
                        "status": span.status.status_code.name,
                    }
                )
            )
        if lines:
            with self._lock, open(self._path, "a", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def _plain(value: Any) -> Any:
    if isinstance(value, str | int | float | bool):
        return value
    return list(value) if isinstance(value, tuple | list) else str(value)


def configure_tracing(
    service: str, version: str = "0.1.0", *, edge: bool = False
) -> TracerProvider:
    """Install the process's TracerProvider and instrument httpx, pymongo and redis. An `edge`
    process (the gateway) decides sampling itself for requests from outside: a client's
    `traceparent` saying "not sampled" cannot hide its payments from the operators."""
    global _provider
    if _provider is not None:
        return _provider
    resource = Resource.create(
        {
            "service.name": os.environ.get("OTEL_SERVICE_NAME", f"payflow-{service}"),
            "service.version": version,
            "service.namespace": "payflow",
        }
    )
    otlp = bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )
    trace_file = os.environ.get("PAYFLOW_TRACE_FILE")
    exporting = otlp or bool(trace_file)
    provider = TracerProvider(resource=resource, sampler=_sampler(exporting, edge))
    if otlp:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter()))
    if trace_file:
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(trace_file)))
    trace.set_tracer_provider(provider)
    _provider = provider
    _instrument_clients(exporting)
    return provider


def sample_ratio() -> float:
    """`PAYFLOW_TRACE_SAMPLE_RATIO` in [0, 1]; 1.0 when unset or unreadable."""
    try:
        return min(1.0, max(0.0, float(os.environ.get("PAYFLOW_TRACE_SAMPLE_RATIO", "1.0"))))
    except ValueError:
        return 1.0


def _sampler(exporting: bool, edge: bool = False) -> Sampler:
    # Parent-based: a payment is traced in every process or in none, as the gateway decided.
    if not exporting:
        return ALWAYS_OFF
    ratio = TraceIdRatioBased(sample_ratio())
    if edge:
        return ParentBased(ratio, remote_parent_not_sampled=ratio)
    return ParentBased(ratio)


def _otlp_exporter() -> SpanExporter:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    if protocol.startswith("grpc"):
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )

            grpc_exporter: SpanExporter = GrpcExporter()
            return grpc_exporter
        except ImportError:
            logger.warning("OTLP gRPC exporter is not installed; using http/protobuf")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter: SpanExporter = OTLPSpanExporter()
    return exporter


def _instrument_clients(exporting: bool) -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    # httpx always: it carries `traceparent` to the next service, so one payment keeps one
    # trace id even when nothing is recorded. Store commands are leaves: only worth a span
    # when spans are kept.
    instrumentors: list[Any] = [HTTPXClientInstrumentor()]
    if exporting:
        instrumentors += [PymongoInstrumentor(), RedisInstrumentor()]
    for instrumentor in instrumentors:
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.force_flush(timeout_millis=2000)


def inject_traceparent() -> dict[str, str]:
    """The current trace context as W3C headers (`traceparent`, maybe `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def extract_context(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    return propagate.extract(carrier)


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
