"""Server errors the OpenAPI fuzzing (test_openapi_fuzz.py, `make fuzz`) found, each pinned: the
gateway answers a problem document, never a 5xx, and nothing is stored."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.e2e

LONE_SURROGATE = '"\\ud800"'  # JSON text that decodes to a string UTF-8 cannot encode


def assert_refused(answer: httpx.Response, status: int = 422) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")


async def test_a_nul_character_in_a_metadata_key_is_refused(customers: Any) -> None:
    user, payee = await customers("nul"), await customers("payee")
    rule = await user.client.post(
        "/v1/sandbox/faults",
        json={"step": "credit", "mode": "reject", "match_metadata": {"a\u0000b": "x"}},
    )
    assert_refused(rule)
    assert (await user.client.get("/v1/sandbox/faults")).json()["data"] == []
    await user.top_up(100)
    paid = await user.transfer(payee.wallet_id, 10, metadata={"\u0000": "x"})
    assert_refused(paid)
    assert await user.balance() == 100


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/auth/login", '{"email": "a@example.com", "password": %s}'),
        (
            "/v1/auth/register",
            '{"email": "a@example.com", "password": "long-enough-1", "name": %s}',
        ),
        ("/v1/api-keys", '{"name": %s}'),
        (
            "/v1/webhook-endpoints",
            '{"url": "https://hooks.example.com/", "event_types": ["*"], "description": %s}',
        ),
        ("/v1/sandbox/faults", '{"step": "debit", "mode": "reject", "match_metadata": {"k": %s}}'),
        ("/v1/sandbox/faults", '{"step": "debit", "mode": "reject", "match_metadata": {%s: "v"}}'),
        (
            "/v1/transfers",
            '{"source_wallet_id": "WALLET", "destination_wallet_id": "WALLET", '
            '"amount": 1, "currency": "USD", "metadata": {"k": %s}}',
        ),
        (
            "/v1/transfers",
            '{"source_wallet_id": "WALLET", "destination_wallet_id": "WALLET", '
            '"amount": 1, "currency": "USD", "description": %s}',
        ),
    ],
)
async def test_text_that_is_not_unicode_is_refused(
    customers: Any, path: str, template: str
) -> None:
    user, payee = await customers("surrogate"), await customers("payee")
    await user.top_up(100)
    body = (template % LONE_SURROGATE).replace(
        '"WALLET", "destination_wallet_id": "WALLET"',
        (f'"{user.wallet_id}", "destination_wallet_id": "{payee.wallet_id}"'),
    )
    answer = await user.client.post(
        path,
        content=body.encode(),
        headers={"content-type": "application/json", "Idempotency-Key": uuid.uuid4().hex},
    )
    assert_refused(answer)
    assert await user.balance() == 100
    assert (await user.client.get("/v1/sandbox/faults")).json()["data"] == []
