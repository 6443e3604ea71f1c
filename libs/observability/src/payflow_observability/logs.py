"""JSON log lines with service, request id, trace id and span id; secrets are masked."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from payflow_observability.context import request_id_var

# Belt and braces: nothing secret should reach a log call, but if it does it is masked here.
_SECRET_PATTERNS = [
    re.compile(r"(Bearer\s+)[A-Za-z0-9._\-]+"),
    re.compile(r"\b(pf_(?:test|live)_)[A-Za-z0-9_\-]+"),
    re.compile(r"\b(whsec_)[A-Za-z0-9+/=]+"),
    re.compile(r"(\$2[aby]\$\d\d\$)[./A-Za-z0-9]{53}"),
    re.compile(r"\b(eyJ)[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
]


def mask_secrets(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self._service
        record.request_id = request_id_var.get()
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        else:
            record.trace_id = None
            record.span_id = None
        return True


class _MaskingJsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger (uvicorn's too) to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    fmt: Any = _MaskingJsonFormatter(
        "%(asctime)s %(levelname)s %(service)s %(name)s %(message)s "
        "%(request_id)s %(trace_id)s %(span_id)s",
        rename_fields={"asctime": "timestamp", "levelname": "level", "name": "logger"},
        datefmt="%Y-%m-%dT%H:%M:%S%z",
    )
    handler.setFormatter(fmt)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True
    # Access lines duplicate the request log; httpx/pymongo are noisy at INFO.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for noisy in ("httpx", "httpcore", "pymongo", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
