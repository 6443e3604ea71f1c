"""The transfer resource the internal API, the live channel and the domain events carry: typed
(`TransferPublic`, `TransferView`), with the JSON the gateway and the webhooks always read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from orchestrator_support import POLICY, a_transfer

from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_contracts.transfers import TRANSFER_EXAMPLE
from payflow_orchestrator.domain.transfer import apply_reply, internal_view, public_view

T0 = datetime(2026, 12, 1, 9, 30, 0, 120_000, tzinfo=UTC)


def test_the_public_view_has_the_resource_s_keys_in_order_and_z_times() -> None:
    transfer = a_transfer(at=T0)
    failed, _ = apply_reply(
        transfer,
        SagaStep.DEBIT_SOURCE,
        StepOutcome.INSUFFICIENT_FUNDS,
        T0 + timedelta(seconds=1),
        POLICY,
    )
    view = json.loads(public_view(failed).model_dump_json())
    assert list(view) == list(TRANSFER_EXAMPLE)
    assert view["created_at"] == "2026-12-01T09:30:00.120000Z"
    assert view["updated_at"] == view["completed_at"] == "2026-12-01T09:30:01.120000Z"
    assert view["history"][0] == {
        "state": "debiting_source",
        "at": "2026-12-01T09:30:00.120000Z",
        "reason": "transfer accepted",
    }
    assert (view["status"], view["failure_code"]) == ("failed", "insufficient_funds")


def test_the_internal_view_adds_whom_it_concerns() -> None:
    transfer = a_transfer(at=T0)
    view = json.loads(internal_view(transfer).model_dump_json())
    assert list(view) == [*TRANSFER_EXAMPLE, "owner_ids", "initiator_id"]
    assert (view["owner_ids"], view["initiator_id"]) == (["usr_a", "usr_b"], "usr_a")
    assert internal_view(transfer).public() == public_view(transfer)
