"""What operators rely on: one trace per payment across every process, logs without secrets,
and the metrics the dashboards and alerts query."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import first_deliveries, register

from payflow_testing import ServiceStack
from payflow_testing.receiver import Receiver

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


def read_spans(trace_file: Path) -> list[dict[str, Any]]:
    if not trace_file.exists():
        return []
    return [json.loads(line) for line in trace_file.read_text().splitlines() if line.strip()]


async def test_one_transfer_is_one_trace_across_every_process(
    gateway_url: str, trace_file: Path
) -> None:
    alice, bob = await register(gateway_url, "alice"), await register(gateway_url, "bob")
    receiver = Receiver()
    receiver.start()
    try:
        endpoint = await alice.client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url("/hooks"), "event_types": ["transfer.completed"]},
        )
        assert endpoint.status_code == 201, endpoint.text
        await alice.top_up(1_000)
        response = await alice.transfer(bob.wallet_id, 250)
        transfer = response.json()
        assert transfer["status"] == "completed"
        trace_id = transfer["trace_id"]
        assert response.headers["traceparent"].split("-")[1] == trace_id
        await first_deliveries(receiver, "/hooks", transfer["id"])
    finally:
        receiver.stop()
        await alice.client.aclose()
        await bob.client.aclose()

    def trace_spans() -> list[dict[str, Any]]:
        return [s for s in read_spans(trace_file) if s["trace_id"] == trace_id]

    services = {"gateway", "orchestrator", "wallet", "ledger", "webhooks", "webhooks-worker"}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        seen = {str(s["service"]).removeprefix("payflow-") for s in trace_spans()}
        if services <= seen:
            break
        await asyncio.sleep(0.3)
    spans = trace_spans()
    assert services <= {str(s["service"]).removeprefix("payflow-") for s in spans}
    # One tree: a single root (the gateway's request span), every other parent inside the trace.
    ids = {s["span_id"] for s in spans}
    roots = [s for s in spans if s["parent_span_id"] is None or s["parent_span_id"] not in ids]
    assert len(roots) == 1, [(r["service"], r["name"]) for r in roots]
    assert str(roots[0]["service"]).endswith("gateway")
    assert roots[0]["kind"] == "SERVER"
    names = {s["name"] for s in spans}
    assert any(name.startswith("step debit_source") for name in names)
    assert any(name.startswith("consume wallet.debit") for name in names)
    assert any(name.startswith("consume ledger.post_transfer") for name in names)
    tagged = [s for s in spans if s["attributes"].get("payflow.transfer_id") == transfer["id"]]
    assert {str(s["service"]).removeprefix("payflow-") for s in tagged} >= {
        "orchestrator",
        "wallet",
        "ledger",
    }
    assert any("payflow.saga.state" in s["attributes"] for s in tagged)


def exposed_names(metrics_text: str) -> set[str]:
    names: set[str] = set()
    for line in metrics_text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names.add(name)
            names.update(
                {"counter": [f"{name}_total"], "histogram": [f"{name}_bucket"]}.get(kind, [])
            )
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def sample_value(metrics_text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_every_metric_the_dashboards_and_alerts_use_is_exposed(
    stack: ServiceStack, gateway_url: str
) -> None:
    from test_deploy_config import EXPOSED_METRICS, alert_rules, dashboards  # noqa: F401

    customer = await register(gateway_url, "metrics")
    try:
        await customer.top_up(100)
    finally:
        await customer.client.aclose()
    found: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        for name in stack.processes:
            found |= exposed_names((await client.get(f"{stack.url(name)}/metrics")).text)
    missing = sorted(EXPOSED_METRICS - found)
    assert missing == [], f"used by dashboards or alerts but exposed by no service: {missing}"


async def test_business_counters_move_as_the_transfers_do(
    stack: ServiceStack, gateway_url: str
) -> None:
    metrics_url = f"{stack.url('orchestrator')}/metrics"
    async with httpx.AsyncClient(timeout=10) as client:
        before = (await client.get(metrics_url)).text
        alice, bob = await register(gateway_url, "alice"), await register(gateway_url, "bob")
        try:
            await alice.top_up(1_000)
            assert (await alice.transfer(bob.wallet_id, 100)).json()["status"] == "completed"
            assert (await alice.transfer(bob.wallet_id, 5_000)).json()[
                "failure_code"
            ] == "insufficient_funds"
            await bob.client.post(f"/v1/wallets/{bob.wallet_id}/freeze")
            frozen = (await alice.transfer(bob.wallet_id, 100)).json()
            assert frozen["failure_code"] == "destination_unavailable"
        finally:
            await alice.client.aclose()
            await bob.client.aclose()
        after = (await client.get(metrics_url)).text

    def moved(name: str, **labels: str) -> float:
        return sample_value(after, name, **labels) - sample_value(before, name, **labels)

    # Other tests may run transfers at the same time only in other sessions; this one is alone.
    assert moved("payflow_transfers_total", kind="transfer", status="completed") == 1
    assert moved("payflow_transfers_total", kind="top_up", status="completed") == 1
    assert moved("payflow_transfers_total", kind="transfer", failure_code="insufficient_funds") == 1
    assert (
        moved("payflow_transfers_total", kind="transfer", failure_code="destination_unavailable")
        == 1
    )
    assert moved("payflow_saga_compensations_total", step="reverse_posting") >= 1
    assert moved("payflow_saga_compensations_total", step="refund_source") >= 1
    assert moved("payflow_transfers_started_total", kind="transfer") == 3
