"""`PayFlow` (sync) against the real running system: every resource, errors, token renewal,
API keys, auto-paging, the transfer stream, fault compensation, refunds, webhooks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from client_support import expired_access_token

from payflow_client import (
    APIError,
    AuthenticationError,
    ConflictError,
    Event,
    IdempotencyKeyReusedError,
    NotFoundError,
    PayFlow,
    PayFlowError,
    PermissionDeniedError,
    Transfer,
    ValidationError,
    WebhookVerificationError,
)
from payflow_testing.receiver import Receiver

pytestmark = pytest.mark.e2e

People = Callable[[str], Any]


def states(transfer: Transfer) -> list[str]:
    return [h.state for h in transfer.history]


def test_a_payment_from_sign_in_to_history(people: People) -> None:
    alice, bob = people("alice"), people("bob")
    me = alice.client.auth.me()
    assert (me.id, me.email, me.role) == (alice.user_id, alice.email, "user")

    wallets = list(alice.client.wallets.list())
    assert [w.id for w in wallets] == [alice.wallet_id]
    assert (wallets[0].currency, wallets[0].balance, wallets[0].status) == ("USD", 0, "active")

    top_up = alice.client.top_ups.create(alice.wallet_id, 5_000, wait=10)
    assert (top_up.kind, top_up.status, top_up.amount, top_up.currency) == (
        "top_up",
        "completed",
        5_000,
        "USD",
    )
    transfer = alice.client.transfers.create(
        source_wallet_id=alice.wallet_id,
        destination_wallet_id=bob.wallet_id,
        amount=1_250,
        currency="USD",
        description="lunch",
        metadata={"order": "42"},
        wait=10,
    )
    assert transfer.status == "completed" and transfer.is_terminal
    assert states(transfer) == [
        "debiting_source",
        "posting_transfer",
        "crediting_destination",
        "completed",
    ]
    assert transfer.metadata == {"order": "42"} and transfer.description == "lunch"
    assert transfer.trace_id and len(transfer.trace_id) == 32
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 3_750
    assert bob.client.wallets.retrieve(bob.wallet_id).balance == 1_250
    # Both sides see it; the ledger shows the money out and in.
    assert bob.client.transfers.retrieve(transfer.id) == transfer
    out = [e for e in alice.client.wallets.entries(alice.wallet_id) if e.transfer_id == transfer.id]
    assert [(e.direction, e.amount, e.kind) for e in out] == [("debit", 1_250, "transfer")]


def test_an_idempotency_key_makes_one_transfer_and_a_different_body_is_refused(
    people: People,
) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    key = uuid.uuid4().hex
    first = alice.client.transfers.create(
        source_wallet_id=alice.wallet_id,
        destination_wallet_id=bob.wallet_id,
        amount=100,
        currency="USD",
        idempotency_key=key,
    )
    again = alice.client.transfers.create(
        source_wallet_id=alice.wallet_id,
        destination_wallet_id=bob.wallet_id,
        amount=100,
        currency="USD",
        idempotency_key=key,
    )
    assert again.id == first.id
    with pytest.raises(IdempotencyKeyReusedError) as reused:
        alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=101,
            currency="USD",
            idempotency_key=key,
        )
    assert isinstance(reused.value, ValidationError)
    assert (reused.value.status, reused.value.code) == (422, "idempotency_key_reused")
    assert alice.client.transfers.wait(first.id).status == "completed"
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 900


def test_errors_are_one_tree_chosen_by_the_problem_code(people: People, base_url: str) -> None:
    alice, bob = people("alice"), people("bob")
    with pytest.raises(NotFoundError) as missing:
        alice.client.transfers.retrieve("trf_does_not_exist")
    error = missing.value
    assert isinstance(error, APIError) and isinstance(error, PayFlowError)
    assert (error.status, error.code) == (404, "transfer_not_found")
    assert error.problem.request_id and error.request_id == error.problem.request_id
    # Another user's wallet is not found either.
    with pytest.raises(NotFoundError) as not_mine:
        alice.client.wallets.retrieve(bob.wallet_id)
    assert not_mine.value.code == "wallet_not_found"

    with pytest.raises(ValidationError) as same:
        alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=alice.wallet_id,
            amount=1,
            currency="USD",
        )
    assert same.value.code == "same_wallet"
    with pytest.raises(ValidationError) as invalid:
        alice.client.wallets.create("XXX")
    assert invalid.value.code == "validation_error"
    assert invalid.value.errors[0]["loc"] == "body.currency"
    with pytest.raises(ConflictError) as taken:
        alice.client.auth.register(alice.email, "another-long-password", "again")
    assert taken.value.code == "email_taken"
    with pytest.raises(PermissionDeniedError):
        alice.client.admin.reconciliation()
    with PayFlow(base_url) as anonymous:
        with pytest.raises(AuthenticationError) as refused:
            anonymous.auth.login(alice.email, "wrong-password-here")
        assert refused.value.code == "invalid_credentials"
        with pytest.raises(AuthenticationError) as anon:
            anonymous.wallets.list().first_page()
        assert anon.value.code == "not_authenticated"
    with pytest.raises(TypeError):
        alice.client.top_ups.create(alice.wallet_id, 12.5)  # a float amount is refused


def test_an_expired_access_token_is_renewed_with_the_refresh_token(
    people: People, base_url: str
) -> None:
    alice = people("alice")
    alice.client.auth.me()  # logs in
    saved: list[tuple[str, str]] = []
    expired = expired_access_token(alice.user_id)
    old_refresh = alice.client.tokens.refresh_token
    with PayFlow(
        base_url,
        access_token=expired,
        refresh_token=old_refresh,
        on_tokens=lambda a, r: saved.append((a, r)),
    ) as client:
        assert client.wallets.retrieve(alice.wallet_id).id == alice.wallet_id
        assert len(saved) == 1
        assert client.tokens.access_token == saved[0][0] != expired
        assert client.tokens.refresh_token == saved[0][1] != old_refresh
        assert client.auth.me().id == alice.user_id  # no second renewal
        assert len(saved) == 1
    # The spent refresh token cannot renew again: without a password that is an auth error.
    with PayFlow(base_url, access_token=expired, refresh_token=old_refresh) as stale:
        with pytest.raises(AuthenticationError) as gone:
            stale.auth.me()
        assert gone.value.code in ("token_reused", "invalid_token")


def test_with_a_password_a_lost_session_is_replaced_by_logging_in_again(
    people: People, base_url: str
) -> None:
    alice = people("alice")
    expired = expired_access_token(alice.user_id)
    with PayFlow(
        base_url,
        access_token=expired,
        refresh_token="not-a-refresh-token",
        email=alice.email,
        password=alice.password,
    ) as client:
        assert client.auth.me().id == alice.user_id
        assert client.tokens.access_token != expired


def test_an_api_key_authenticates_and_a_revoked_one_does_not(people: People, base_url: str) -> None:
    alice = people("alice")
    created = alice.client.api_keys.create("ci")
    assert created.key.startswith("pf_test_") and created.prefix
    with PayFlow(base_url, api_key=created.key) as by_key:
        assert by_key.auth.me().id == alice.user_id
        assert [k.id for k in alice.client.api_keys.list()] == [created.id]
        alice.client.api_keys.revoke(created.id)
        with pytest.raises(AuthenticationError) as revoked:
            by_key.auth.me()
        assert revoked.value.code == "invalid_token"


def test_lists_page_through_every_item(people: People) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 10_000, wait=10)
    made = [
        alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=100 + i,
            currency="USD",
            wait=10,
        ).id
        for i in range(5)
    ]
    pager = alice.client.transfers.list(wallet_id=alice.wallet_id, page_size=2)
    pages = list(pager.pages())
    assert [len(p.data) for p in pages] == [2, 2, 2]  # five transfers and the top-up
    listed = [t.id for t in alice.client.transfers.list(page_size=2)]
    assert listed[:5] == made[::-1]  # newest first
    assert len(listed) == 6
    assert [t.id for t in alice.client.transfers.list(page_size=2, limit=3)] == made[::-1][:3]
    assert list(alice.client.transfers.list(status="failed")) == []
    completed = list(bob.client.transfers.list(status="completed", page_size=1))
    assert sorted(t.id for t in completed) == sorted(made)


def test_the_stream_follows_a_transfer_until_it_is_terminal(people: People) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    started = alice.client.transfers.create(
        source_wallet_id=alice.wallet_id,
        destination_wallet_id=bob.wallet_id,
        amount=300,
        currency="USD",
    )
    seen = list(alice.client.transfers.stream(started.id))
    assert seen[-1].status == "completed"
    assert seen[-1].state == "completed"
    assert len({t.state for t in seen}) == len(seen)  # each change once
    final = alice.client.transfers.wait(started.id, timeout=5)
    # (Times differ below the millisecond: the stored transfer keeps milliseconds only.)
    assert (final.id, final.state, states(final)) == (started.id, "completed", states(seen[-1]))


def test_a_failed_step_is_compensated_and_listed_as_failed(people: People) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 5_000, wait=10)
    fault = alice.client.sandbox.add_fault("ledger", "reject", match_metadata={"case": "break-me"})
    assert fault in alice.client.sandbox.faults()
    try:
        failed = alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=1_200,
            currency="USD",
            metadata={"case": "break-me"},
            wait=10,
        )
        failed = alice.client.transfers.wait(failed.id, timeout=30)
    finally:
        alice.client.sandbox.remove_fault(fault.id)
    assert (failed.status, failed.failure_code, failed.compensated) == (
        "failed",
        "ledger_rejected",
        True,
    )
    assert states(failed) == [
        "debiting_source",
        "posting_transfer",
        "refunding_source",
        "compensated",
    ]
    assert [t.id for t in alice.client.transfers.list(status="failed")] == [failed.id]
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 5_000


def test_the_recipient_refunds_in_parts_until_nothing_is_left(people: People) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 2_000, wait=10)
    paid = alice.client.transfers.create(
        source_wallet_id=alice.wallet_id,
        destination_wallet_id=bob.wallet_id,
        amount=700,
        currency="USD",
        wait=10,
    )
    part = bob.client.refunds.create(paid.id, amount=200, wait=10)
    assert (part.kind, part.refund_of, part.status, part.amount) == (
        "refund",
        paid.id,
        "completed",
        200,
    )
    refund = bob.client.refunds.create(paid.id, wait=10)  # all that is left
    assert (refund.status, refund.amount) == ("completed", 500)
    original = bob.client.transfers.retrieve(paid.id)
    assert (original.refunded_amount, original.refunds) == (700, [part.id, refund.id])
    with pytest.raises(ValidationError) as nothing_left:
        bob.client.transfers.refund(paid.id)
    assert nothing_left.value.code == "refund_exceeds_remaining"
    with pytest.raises(ValidationError) as refused:
        alice.client.refunds.create(paid.id)
    assert refused.value.code == "transfer_not_refundable"
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 2_000


def test_webhooks_arrive_signed_and_verify_into_typed_events(people: People) -> None:
    alice, bob = people("alice"), people("bob")
    receiver = Receiver()
    receiver.start()
    try:
        endpoint = alice.client.webhook_endpoints.create(
            receiver.url("/hooks"), ["transfer.completed"], description="books"
        )
        assert endpoint.secret.startswith("whsec_")
        assert [e.id for e in alice.client.webhook_endpoints.list()] == [endpoint.id]
        alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
        paid = alice.client.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=250,
            currency="USD",
            wait=10,
        )
        events: list[Event] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and paid.id not in {e.data.id for e in events}:
            events = [
                alice.client.webhooks.verify(r.body, r.headers, endpoint.secret)
                for r in receiver.received("/hooks")
            ]
            time.sleep(0.1)
        mine = [e for e in events if e.data.id == paid.id]
        assert [e.type for e in mine] == ["transfer.completed"]
        assert mine[0].data.amount == 250 and mine[0].data.status == "completed"
        delivered = receiver.received("/hooks")[-1]
        with pytest.raises(WebhookVerificationError):
            alice.client.webhooks.verify(delivered.body + b" ", delivered.headers, endpoint.secret)
        rotated = alice.client.webhook_endpoints.rotate_secret(endpoint.id)
        assert rotated.secret != endpoint.secret
    finally:
        receiver.stop()

    deliveries: list[Any] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliveries = list(alice.client.webhook_endpoints.deliveries(endpoint.id))
        if deliveries and all(d.status == "succeeded" for d in deliveries):
            break
        time.sleep(0.2)
    assert deliveries and {d.status for d in deliveries} == {"succeeded"}
    one = alice.client.deliveries.retrieve(deliveries[0].id)
    assert one.attempts[0].status_code == 200
    event = alice.client.events.retrieve(one.event_id)
    assert event.type == "transfer.completed" and event.data.id == paid.id
    listed = [e.id for e in alice.client.events.list(type="transfer.completed")]
    assert event.id in listed
    updated = alice.client.webhook_endpoints.update(endpoint.id, status="disabled")
    assert (updated.status, updated.disabled_reason) == ("disabled", "by_owner")
    alice.client.webhook_endpoints.delete(endpoint.id)
    with pytest.raises(NotFoundError):
        alice.client.webhook_endpoints.retrieve(endpoint.id)


def test_an_operator_reconciles_and_lists_users(admin_client: PayFlow, people: People) -> None:
    alice = people("alice")
    deadline = time.monotonic() + 60
    report = admin_client.admin.reconciliation()
    while not report.ok and time.monotonic() < deadline:
        time.sleep(0.5)
        report = admin_client.admin.reconciliation()
    assert report.ok and report.ledger_balanced and report.mismatches == []
    assert report.wallets_checked >= 1
    assert alice.user_id in {u.id for u in admin_client.admin.users(page_size=50)}


def test_verify_is_reachable_as_a_function_and_from_the_client() -> None:
    from payflow_client.webhooks import sign, verify

    secret = "whsec_" + "c2VjcmV0LWtleS1vZi10aGUtdGVzdA=="
    body = json.dumps(
        {"id": "evt_1", "type": "transfer.created", "created_at": "2026-01-01T00:00:00Z"}
    )
    now = int(time.time())
    headers = {
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign(secret, "evt_1", now, body),
    }
    with pytest.raises(WebhookVerificationError, match="not a PayFlow event"):
        verify(body, headers, secret)  # signed, but without the transfer in `data`
