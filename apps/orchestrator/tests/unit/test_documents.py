"""The orchestrator's MongoDB documents, converted by hand from and to the domain's dataclasses:
the fields, their order and their types are those the documents have always had (what earlier
versions stored reads back the same), and reading coerces what a document may hold (enums from
their values, timezone-aware datetimes, the defaults of fields older documents lack)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator_support import POLICY, a_link, a_transfer

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_orchestrator.adapters.mongo import (
    _link_document,
    _link_of,
    _rule_document,
    _rule_of,
    _transfer_document,
    _transfer_of,
)
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.reservations import Reservation
from payflow_orchestrator.domain.saga_machine import FailureCode, SagaKind, SagaState
from payflow_orchestrator.domain.transfer import HistoryEntry, StepFault, apply_reply
from payflow_orchestrator.schemas import FaultRuleView

T0 = datetime(2026, 11, 22, 12, 0, 0, 123_000, tzinfo=UTC)
NAIVE_T0 = T0.replace(tzinfo=None)

TRANSFER_FIELDS = [
    "kind",
    "initiator_id",
    "idempotency_key",
    "source_wallet_id",
    "destination_wallet_id",
    "amount",
    "currency",
    "description",
    "metadata",
    "owner_ids",
    "refund_of",
    "fee",
    "payment_link_id",
    "request_fingerprint",
    "state",
    "version",
    "failure_code",
    "failure_message",
    "step_sends",
    "step_started_at",
    "step_deadline",
    "compensation_sends",
    "history",
    "created_at",
    "updated_at",
    "completed_at",
    "traceparent",
    "faults",
    "events",
    "refund_reserved",
    "refunded_amount",
    "refund_ids",
    "reservations",
    "reservations_open",
    "_id",
    "position",
    "due_at_ms",
    "owes_events_since_ms",
]
LINK_FIELDS = [
    "owner_id",
    "idempotency_key",
    "request_fingerprint",
    "wallet_id",
    "currency",
    "amount",
    "min_amount",
    "max_amount",
    "description",
    "metadata",
    "single_use",
    "merchant_name",
    "expires_at",
    "active",
    "created_at",
    "deactivated_at",
    "paid_count",
    "paid_amount",
    "reservations",
    "reservations_open",
    "_id",
    "position",
    "expires_at_ms",
    "reservations_due_ms",
]
HOLD = Reservation(saga_id="tr_r1", amount=40, reserved_at_ms=1_000, request={"kind": "refund"})


def a_failed_transfer() -> Any:
    transfer = replace(
        a_transfer(at=T0),
        faults={"credit_destination": StepFault(rule_id="flt_1", mode="reject")},
        reservations={"s1": HOLD},
        reservations_open=1,
        refund_reserved=40,
        refund_ids=["tr_r1"],
    )
    failed, _ = apply_reply(
        transfer, SagaStep.DEBIT_SOURCE, StepOutcome.INSUFFICIENT_FUNDS, T0, POLICY, "only 5"
    )
    return failed


def test_a_transfer_document_keeps_its_fields_order_and_types() -> None:
    transfer = a_failed_transfer()
    document = _transfer_document(transfer)
    assert list(document) == TRANSFER_FIELDS
    assert document["_id"] == "tr_1"
    assert (document["kind"], document["state"]) == (SagaKind.TRANSFER, SagaState.FAILED)
    assert document["failure_code"] is FailureCode.INSUFFICIENT_FUNDS
    assert [list(entry) for entry in document["history"]] == [["state", "at", "reason"]] * 2
    assert document["faults"] == {"credit_destination": {"rule_id": "flt_1", "mode": "reject"}}
    assert document["reservations"] == {
        "s1": {
            "saga_id": "tr_r1",
            "amount": 40,
            "reserved_at_ms": 1_000,
            "request": {"kind": "refund"},
        }
    }
    assert isinstance(document["owner_ids"], list) and isinstance(document["refund_ids"], list)
    assert _transfer_of(document) == transfer


def test_a_transfer_stored_before_fees_refunds_and_links_reads_with_their_defaults() -> None:
    stored = {
        "_id": "tr_old",
        "kind": "transfer",
        "initiator_id": "usr_a",
        "idempotency_key": "old",
        "source_wallet_id": "wal_a",
        "destination_wallet_id": "wal_b",
        "amount": 50,
        "currency": "EUR",
        "owner_ids": ["usr_a"],
        "state": "debiting_source",
        "version": 3,
        "step_started_at": NAIVE_T0,
        "step_deadline": NAIVE_T0 + timedelta(seconds=5),
        "history": [{"state": "debiting_source", "at": NAIVE_T0, "reason": "transfer accepted"}],
        "created_at": NAIVE_T0,
        "updated_at": NAIVE_T0,
        "position": "001795348800123|tr_old",
    }
    transfer = _transfer_of(stored)
    assert transfer.kind is SagaKind.TRANSFER and transfer.state is SagaState.DEBITING_SOURCE
    assert transfer.history == [HistoryEntry(SagaState.DEBITING_SOURCE, T0, "transfer accepted")]
    assert (transfer.created_at, transfer.step_deadline) == (T0, T0 + timedelta(seconds=5))
    assert transfer.created_at.tzinfo is UTC
    assert (transfer.fee, transfer.refund_reserved, transfer.refund_ids) == (0, 0, [])
    assert (transfer.metadata, transfer.faults, transfer.events, transfer.reservations) == (
        {},
        {},
        {},
        {},
    )
    assert (transfer.request_fingerprint, transfer.step_sends, transfer.failure_code) == (
        "",
        1,
        None,
    )


def test_a_link_document_keeps_its_fields_order_and_reads_back() -> None:
    link = replace(a_link(at=T0, expires_at=T0 + timedelta(days=1)), reservations={"s1": HOLD})
    document = _link_document(link)
    assert list(document) == LINK_FIELDS
    assert document["expires_at_ms"] == link.expires_at_ms
    assert document["reservations"]["s1"] == {
        "saga_id": "tr_r1",
        "amount": 40,
        "reserved_at_ms": 1_000,
        "request": {"kind": "refund"},
    }
    assert _link_of(document) == link
    naive = {**document, "created_at": NAIVE_T0, "expires_at": None}
    assert _link_of(naive).created_at.tzinfo is UTC


def test_a_fault_rule_document_keeps_its_fields_and_a_whole_rate_reads_as_a_float() -> None:
    rule = FaultRule(id="flt_1", owner_id="usr_a", step="ledger", mode="error", rate=0.25)
    document = _rule_document(rule)
    assert list(document) == ["owner_id", "step", "mode", "rate", "match_metadata", "_id"]
    assert _rule_of(document) == rule
    whole = _rule_of({**document, "rate": 1})
    assert isinstance(whole.rate, float) and whole.rate == 1.0


def test_a_fault_rule_is_shown_as_before() -> None:
    rule = FaultRule(id="flt_1", owner_id="usr_a", step="debit", mode="reject")
    assert FaultRuleView.of(rule).model_dump_json() == (
        '{"id":"flt_1","owner_id":"usr_a","step":"debit","mode":"reject","rate":1.0,'
        '"match_metadata":{}}'
    )
