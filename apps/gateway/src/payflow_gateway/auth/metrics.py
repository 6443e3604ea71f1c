"""Prometheus metrics of authentication."""

from __future__ import annotations

from prometheus_client import Counter

AUTH_FAILURES = Counter(
    "payflow_auth_failures_total",
    "Requests refused for authentication, by reason",
    ["reason"],
)
