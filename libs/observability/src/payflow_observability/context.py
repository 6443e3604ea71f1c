"""The request id of the work in progress, carried in a context variable into every log line."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("payflow_request_id", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()
