"""Schemathesis over the gateway's own `/openapi.json`: every route, called with generated
parameters and bodies (valid and not) as a real registered user with a funded wallet, on every
process of the system running for real.

Each answer must be: never a 5xx; a documented status code with its documented content type and
schema; and, for every 4xx, a problem+json document (RFC 9457) with a `code`. Generated path ids
and wallet ids are replaced half the time by ids of the user's real resources, so that calls reach
past the 404s into the services.

`make test` runs a bounded number of examples per route, derandomized (the same cases every run);
`make fuzz` runs thousands of random ones (PAYFLOW_FUZZ_EXAMPLES, PAYFLOW_FUZZ_REPORT) and prints
the figures.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, CheckContext, GenerationMode, Response
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("PAYFLOW_FUZZ_EXAMPLES", "10"))
LONG_RUN = "PAYFLOW_FUZZ_EXAMPLES" in os.environ
REPORT = os.environ.get("PAYFLOW_FUZZ_REPORT")
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}

FUZZ_ENV = {
    "PAYFLOW_BCRYPT_ROUNDS": "4",
    # Thousands of requests from one address and one user in a few minutes: the budgets are
    # exercised by their own tests, here they would only turn cases into 429s.
    "PAYFLOW_RATE_LIMITS_ENABLED": "false",
    "PAYFLOW_STEP_TIMEOUT_S": "2",
    "PAYFLOW_SWEEPER_INTERVAL_S": "0.5",
    # Generated webhook URLs are never called on a private address, nor waited on for long.
    "PAYFLOW_WEBHOOK_ALLOW_PRIVATE_URLS": "false",
    "PAYFLOW_WEBHOOK_TIMEOUT_S": "2",
}

# Everything each case got, for the figures of `make fuzz`.
TALLY: Counter[str] = Counter()


def a_problem_document_for_every_4xx(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every 4xx is application/problem+json with the RFC 9457 fields and a stable `code`."""
    if not 400 <= response.status_code < 500:
        return
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media_type == "application/problem+json", (
        f"{response.status_code} answered as {media_type!r}, not a problem document"
    )
    body = json.loads(response.content)
    assert set(body) >= PROBLEM_FIELDS, f"problem document without {PROBLEM_FIELDS - set(body)}"
    assert body["status"] == response.status_code
    assert isinstance(body["code"], str) and body["code"]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    a_problem_document_for_every_4xx,
]


@pytest.fixture(scope="module")
def fuzz_stack(
    stores: StoreEndpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceStack]:
    with ServiceStack(
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        work_dir=tmp_path_factory.mktemp("fuzz"),
        extra_env=FUZZ_ENV,
    ) as stack:
        yield stack


def registered(gateway: str, name: str) -> tuple[str, str]:
    """A new user's access token and default wallet."""
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    account = {"email": email, "password": "a-long-enough-password"}
    created = httpx.post(f"{gateway}/v1/auth/register", json={**account, "name": name}, timeout=30)
    assert created.status_code == 201, created.text
    login = httpx.post(f"{gateway}/v1/auth/login", json=account, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["access_token"], created.json()["wallet"]["id"]


@pytest.fixture(scope="module")
def real_ids(fuzz_stack: ServiceStack) -> dict[str, Any]:
    """A funded user, the resources they hold, and another user's wallet to pay."""
    gateway = fuzz_stack.url("gateway")
    token, wallet_id = registered(gateway, "fuzzer")
    _, payee_wallet = registered(gateway, "payee")
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway, headers=auth, timeout=30) as client:
        top_up = client.post(
            f"/v1/wallets/{wallet_id}/top-ups",
            json={"amount": 1_000_000},
            headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
        )
        assert top_up.status_code == 200 and top_up.json()["status"] == "completed", top_up.text
        paid = client.post(
            "/v1/transfers",
            json={
                "source_wallet_id": wallet_id,
                "destination_wallet_id": payee_wallet,
                "amount": 100,
                "currency": "USD",
            },
            headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
        )
        assert paid.json()["status"] == "completed", paid.text
        endpoint = client.post(
            "/v1/webhook-endpoints",
            json={"url": "https://hooks.example.com/payflow", "event_types": ["*"]},
        )
        key = client.post("/v1/api-keys", json={"name": "fuzz"})
        rule = client.post(
            "/v1/sandbox/faults",
            json={"step": "credit", "mode": "reject", "match_metadata": {"fuzz": "never"}},
        )
        deadline = time.monotonic() + 30
        events: list[Any] = []
        while not events and time.monotonic() < deadline:
            events = client.get("/v1/events").json()["data"]
            time.sleep(0.2)
    assert endpoint.status_code == 201 and key.status_code == 201 and rule.status_code == 201
    return {
        "token": token,
        "path": {
            "wallet_id": wallet_id,
            "transfer_id": paid.json()["id"],
            "endpoint_id": endpoint.json()["id"],
            "key_id": key.json()["id"],
            "fault_id": rule.json()["id"],
            "event_id": events[0]["id"] if events else "evt_0",
        },
        "wallets": [wallet_id, payee_wallet],
    }


@pytest.fixture(scope="module")
def gateway_schema(fuzz_stack: ServiceStack, real_ids: dict[str, Any]) -> Any:
    schema = schemathesis.openapi.from_url(f"{fuzz_stack.url('gateway')}/openapi.json")

    @schema.hook
    def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
        real = real_ids["path"]
        choices = {
            name: st.sampled_from([value, real[name]]) if name in real else st.just(value)
            for name, value in (path_parameters or {}).items()
        }
        return st.fixed_dictionaries(choices)

    @schema.hook
    def flatmap_body(context: Any, body: Any) -> Any:
        if not isinstance(body, dict):
            return st.just(body)
        payer, payee = real_ids["wallets"]
        if {"source_wallet_id", "destination_wallet_id"} <= set(body):
            # Half the transfers move money between the two real wallets, in their currency.
            real = {
                **body,
                "source_wallet_id": payer,
                "destination_wallet_id": payee,
                "currency": "USD",
            }
            return st.sampled_from([body, real])
        choices = {
            name: st.sampled_from([value, payer]) if name.endswith("wallet_id") else st.just(value)
            for name, value in body.items()
        }
        return st.fixed_dictionaries(choices)

    return schema


def test_every_route_answers_within_its_documented_contract(
    gateway_schema: Any, real_ids: dict[str, Any], fuzz_stack: ServiceStack
) -> None:
    gateway = fuzz_stack.url("gateway")
    live = httpx.get(f"{gateway}/openapi.json", timeout=30).json()
    operations = [result.ok() for result in gateway_schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in live["paths"].values())
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=not LONG_RUN,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def one_case(case: Case) -> None:
                headers = {"Authorization": f"Bearer {real_ids['token']}"}
                response = case.call(base_url=gateway, headers=headers, timeout=30)
                TALLY["requests"] += 1
                TALLY[f"{response.status_code // 100}xx"] += 1
                TALLY[f"{case.method} {case.path} {response.status_code}"] += 1
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                one_case()
            except (
                Exception,
                BaseExceptionGroup,
            ) as failure:  # every operation runs; all are reported
                failures.append(f"{operation.label} ({mode.value}): {failure}")
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    started = time.monotonic()
    yield
    summary = {
        "requests": TALLY["requests"],
        "by_class": {k: v for k, v in sorted(TALLY.items()) if k.endswith("xx")},
        "by_route": {k: v for k, v in sorted(TALLY.items()) if " " in k},
        "examples_per_route": EXAMPLES,
        "seconds": round(time.monotonic() - started, 1),
    }
    if REPORT:
        Path(REPORT).write_text(json.dumps(summary, indent=2) + "\n")
    print(
        f"\nfuzz: {summary['requests']} requests in {summary['seconds']} s, {summary['by_class']}"
    )
