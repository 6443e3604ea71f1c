"""Signatures that any Standard Webhooks library verifies, during rotations too."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from payflow_webhooks.domain.signatures import (
    delivery_headers,
    new_signing_secret,
    secret_key,
    sign,
)


def test_the_specification_example_signs_to_its_published_signature() -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_whsec_and_at_least_24_random_bytes() -> None:
    one, two = new_signing_secret(), new_signing_secret()
    assert one.startswith("whsec_") and one != two
    assert len(base64.b64decode(one.removeprefix("whsec_"))) >= 24


def test_the_official_library_verifies_a_signed_delivery() -> None:
    secret = new_signing_secret()
    body = b'{"id":"evt_1","type":"transfer.completed","data":{"amount":1250}}'
    now = int(datetime.now(UTC).timestamp())
    headers = delivery_headers([secret], "evt_1", now, body)
    assert Webhook(secret).verify(body, headers)["id"] == "evt_1"
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(now)


def test_during_a_rotation_either_secret_verifies_the_same_delivery() -> None:
    new, old = new_signing_secret(), new_signing_secret()
    body = b'{"id":"evt_2"}'
    now = int(datetime.now(UTC).timestamp())
    headers = delivery_headers([new, old], "evt_2", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_signing_secret()).verify(body, headers)


def test_a_tampered_body_does_not_verify() -> None:
    secret = new_signing_secret()
    now = int(datetime.now(UTC).timestamp())
    headers = delivery_headers([secret], "evt_3", now, b'{"amount":100}')
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"amount":999}', headers)


@pytest.mark.parametrize("bad", ["", "MfKQ9r8G", "whsec_", "whsec_not base64!"])
def test_a_malformed_secret_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        secret_key(bad)
