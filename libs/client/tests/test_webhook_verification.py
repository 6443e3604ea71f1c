"""`verify` against the real signer of the webhooks service and the official Standard Webhooks
library: what they sign, the client accepts; tampering, age, wrong secrets and missing headers
are refused; a rotation's two signatures verify under either secret."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook

from payflow_client import WebhookVerificationError
from payflow_client.webhooks import sign, verify, verify_signature
from payflow_webhooks.domain.signatures import delivery_headers, new_signing_secret

EVENT = (
    b'{"id":"evt_1","type":"transfer.completed","created_at":"2026-01-01T00:00:00Z","data":'
    b'{"id":"tr_1","kind":"transfer","status":"completed","state":"completed","amount":1250,'
    b'"currency":"USD","source_wallet_id":"w_a","destination_wallet_id":"w_b","description":null,'
    b'"metadata":{},"failure_code":null,"failure_message":null,"compensated":false,'
    b'"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:01Z",'
    b'"completed_at":"2026-01-01T00:00:01Z","history":[{"state":"completed",'
    b'"at":"2026-01-01T00:00:01Z","reason":"destination credited"}],"trace_id":null,'
    b'"refund_of":null}}'
)


def test_a_delivery_signed_by_the_webhooks_service_verifies_into_a_typed_event() -> None:
    secret = new_signing_secret()
    headers = delivery_headers([secret], "evt_1", int(time.time()), EVENT)
    event = verify(EVENT, headers, secret)
    assert (event.id, event.type) == ("evt_1", "transfer.completed")
    assert (event.data.amount, event.data.currency, event.data.history[0].state) == (
        1250,
        "USD",
        "completed",
    )
    # The official verifier agrees with the client's signature.
    now = int(time.time())
    ours = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "evt_1", now, EVENT),
    }
    assert Webhook(secret).verify(EVENT, ours)["id"] == "evt_1"


def test_during_a_rotation_either_secret_verifies() -> None:
    old, new = new_signing_secret(), new_signing_secret()
    headers = delivery_headers([new, old], "evt_1", int(time.time()), EVENT)
    assert len(headers["webhook-signature"].split()) == 2
    assert verify(EVENT, headers, old).id == "evt_1"
    assert verify(EVENT, headers, new).id == "evt_1"
    assert verify(EVENT, headers, [new_signing_secret(), old]).id == "evt_1"


def test_tampering_a_wrong_secret_and_missing_headers_are_refused() -> None:
    secret = new_signing_secret()
    headers = delivery_headers([secret], "evt_1", int(time.time()), EVENT)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature"):
        verify(EVENT.replace(b"1250", b"9250"), headers, secret)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature"):
        verify(EVENT, headers, new_signing_secret())
    with pytest.raises(WebhookVerificationError, match="no webhook-signature"):
        verify(EVENT, {**headers, "webhook-id": "evt_2"}, secret)
    with pytest.raises(WebhookVerificationError, match="missing the webhook-signature"):
        verify(EVENT, {k: v for k, v in headers.items() if k != "webhook-signature"}, secret)
    with pytest.raises(WebhookVerificationError, match="no webhook-signature"):
        verify(
            EVENT,
            {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")},
            secret,
        )


def test_the_timestamp_must_be_within_five_minutes() -> None:
    secret = new_signing_secret()
    now = time.time()
    old = delivery_headers([secret], "evt_1", int(now - 301), EVENT)
    future = delivery_headers([secret], "evt_1", int(now + 301), EVENT)
    recent = delivery_headers([secret], "evt_1", int(now - 299), EVENT)
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(EVENT, old, secret, now=now)
    with pytest.raises(WebhookVerificationError, match="future"):
        verify(EVENT, future, secret, now=now)
    assert verify(EVENT, recent, secret, now=now).id == "evt_1"
    # A receiver's own tolerance is honoured; header names are case-insensitive.
    upper = {k.upper(): v for k, v in old.items()}
    assert verify_signature(EVENT, upper, secret, tolerance_s=600, now=now) == EVENT


def test_a_secret_that_is_not_base64_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="base64"):
        sign("whsec_!!!", "evt", 1, b"{}")
    assert sign("whsec_" + base64.b64encode(b"k").decode(), "evt", 1, "{}").startswith("v1,")
