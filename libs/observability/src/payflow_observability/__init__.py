"""Logging, tracing and trace-context helpers shared by every PayFlow process."""

from payflow_observability.context import current_request_id, request_id_var
from payflow_observability.logs import configure_logging
from payflow_observability.tracing import (
    configure_tracing,
    current_trace_id,
    extract_context,
    inject_traceparent,
    shutdown_tracing,
)

__all__ = [
    "configure_logging",
    "configure_tracing",
    "current_request_id",
    "current_trace_id",
    "extract_context",
    "inject_traceparent",
    "request_id_var",
    "shutdown_tracing",
]
