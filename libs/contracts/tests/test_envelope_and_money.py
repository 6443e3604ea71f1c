"""The envelope round-trips as JSON; money is integers of one currency."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from payflow_contracts import Envelope, Money, new_id
from payflow_contracts.events import transfer_event_id
from payflow_contracts.saga import DebitWallet, SagaStep, StepReply


def test_an_envelope_round_trips_through_json_with_its_typed_payload() -> None:
    command = DebitWallet(
        saga_id="tr_1", step=SagaStep.DEBIT_SOURCE, amount=125, currency="USD", wallet_id="wal_1"
    )
    envelope = Envelope.wrap(
        command, saga_id="tr_1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    )
    again = Envelope.from_wire(envelope.to_wire())
    assert again == envelope
    assert again.type == "wallet.debit.v1"
    assert again.open(DebitWallet) == command
    assert command.operation_id == "tr_1:debit_source"


def test_opening_an_envelope_as_another_type_is_refused() -> None:
    envelope = Envelope.wrap(
        DebitWallet(
            saga_id="tr_1", step=SagaStep.DEBIT_SOURCE, amount=1, currency="USD", wallet_id="w"
        )
    )
    with pytest.raises(ValueError, match="opened as"):
        envelope.open(StepReply)


@pytest.mark.parametrize("amount", [1.5, "10", True, 0, -3])
def test_a_command_amount_must_be_a_positive_integer(amount: object) -> None:
    with pytest.raises(ValidationError):
        DebitWallet(
            saga_id="tr_1", step=SagaStep.DEBIT_SOURCE, amount=amount, currency="USD", wallet_id="w"
        )  # type: ignore[arg-type]


def test_money_adds_within_one_currency_only() -> None:
    assert Money(amount=5, currency="EUR") + Money(amount=7, currency="EUR") == Money(
        amount=12, currency="EUR"
    )
    with pytest.raises(ValueError, match="currency mismatch"):
        Money(amount=5, currency="EUR") + Money(amount=7, currency="USD")
    with pytest.raises(ValidationError):
        Money(amount=1.0, currency="EUR")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Money(amount=1, currency="eur")


def test_ids_carry_their_type_prefix_and_event_ids_are_stable() -> None:
    assert new_id("tr").startswith("tr_")
    assert new_id("tr") != new_id("tr")
    with pytest.raises(ValueError, match="unknown id prefix"):
        new_id("zz")
    assert transfer_event_id("tr_1", "transfer.completed") == transfer_event_id(
        "tr_1", "transfer.completed"
    )
    assert transfer_event_id("tr_1", "transfer.completed") != transfer_event_id(
        "tr_1", "transfer.failed"
    )
