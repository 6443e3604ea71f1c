"""What operators rely on: one trace per payment across every process, logs without secrets,
and the metrics the dashboards and alerts query."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from e2e_support import register

from payflow_testing import ServiceStack

pytestmark = pytest.mark.e2e

SECRET_PATTERNS = {
    "bcrypt hash": re.compile(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}"),
    "JWT": re.compile(r"eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
    "API key": re.compile(r"pf_(?:test|live)_[A-Za-z0-9_\-]{20,}"),
    "webhook secret": re.compile(r"whsec_[A-Za-z0-9+/=]{20,}"),
}


async def test_logs_carry_context_and_never_a_secret(stack: ServiceStack, gateway_url: str) -> None:
    customer = await register(gateway_url, "logcheck")
    try:
        key = await customer.client.post("/v1/api-keys", json={"name": "ci"})
        assert key.status_code == 201, key.text
        secret_key = key.json()["key"]
        await customer.top_up(500)
        bad_login = await customer.client.post(
            "/v1/auth/login", json={"email": customer.email, "password": "wrong-password-here"}
        )
        assert bad_login.status_code == 401
    finally:
        await customer.client.aclose()
    await asyncio.sleep(0.5)
    lines: list[dict[str, Any]] = []
    for name in stack.processes:
        text = stack.processes[name].log_path.read_text(errors="replace")
        assert "a-long-enough-password" not in text, f"{name} logged a password"
        assert secret_key not in text, f"{name} logged an API key"
        for label, pattern in SECRET_PATTERNS.items():
            assert not pattern.search(text), f"{name} logged a {label}"
        for raw in text.splitlines():
            if raw.startswith("{"):
                lines.append(json.loads(raw))
    assert lines
    for field in ("timestamp", "level", "service", "message", "request_id", "trace_id", "span_id"):
        assert all(field in line for line in lines), field
    requests = [
        line for line in lines if line.get("service") == "gateway" and line.get("http_path")
    ]
    assert requests
    assert all(line["request_id"] for line in requests)
    assert any(line["trace_id"] for line in requests)
