"""Payments with a platform fee as pure ledger decisions: one transaction, three entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow_contracts.saga import SagaStep
from payflow_ledger.domain.journal import (
    Account,
    AccountKind,
    Direction,
    Entry,
    TransactionKind,
    account_kind,
    balances,
    fee_account,
    funding_account,
    reversal_of,
    system_balances,
    top_up_transaction,
    transfer_transaction,
    wallet_balances,
)
from payflow_ledger.domain.postings import LedgerVerdict, PostingRequest, decide_posting

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def payment(amount: int, fee: int) -> PostingRequest:
    return PostingRequest(
        saga_id="tr_pay",
        step=SagaStep.POST_TRANSFER,
        kind=TransactionKind.TRANSFER,
        amount=amount,
        currency="USD",
        source="wal_payer",
        destination="wal_merchant",
        fee=fee,
    )


def test_a_payment_with_a_fee_is_one_balanced_transaction_of_three_entries() -> None:
    record = decide_posting(
        payment(1_000, 59),
        {"wal_payer": "USD", "wal_merchant": "USD", "fees:USD": "USD"},
        "jtx_1",
        T0,
    )
    assert record.verdict is LedgerVerdict.POSTED
    assert record.transaction is not None
    assert record.transaction.entries == (
        Entry("wal_payer", Direction.DEBIT, 1_000),
        Entry("wal_merchant", Direction.CREDIT, 941),
        Entry("fees:USD", Direction.CREDIT, 59),
    )
    assert record.transaction.is_balanced
    assert payment(1_000, 59).accounts == ("wal_payer", "wal_merchant", "fees:USD")


def test_without_a_fee_a_transfer_keeps_its_two_entries() -> None:
    transaction = transfer_transaction("jtx_1", "wal_a", "wal_b", 100, "USD")
    assert len(transaction.entries) == 2
    assert payment(100, 0).accounts == ("wal_payer", "wal_merchant")


def test_a_fee_account_in_another_currency_refuses_the_payment() -> None:
    record = decide_posting(
        payment(1_000, 59),
        {"wal_payer": "USD", "wal_merchant": "USD", "fees:USD": "EUR"},
        "jtx",
        T0,
    )
    assert record.verdict is LedgerVerdict.CURRENCY_MISMATCH and record.transaction is None


@pytest.mark.parametrize("fee", [-1, 1_000, 1_001])
def test_a_fee_is_less_than_the_amount_and_never_negative(fee: int) -> None:
    with pytest.raises(ValueError, match="fee"):
        payment(1_000, fee)
    with pytest.raises(ValueError, match="fee"):
        transfer_transaction("jtx", "wal_a", "wal_b", 1_000, "USD", fee)


def test_only_a_transfer_carries_a_fee() -> None:
    with pytest.raises(ValueError, match="fee"):
        PostingRequest(
            saga_id="tr_t",
            step=SagaStep.POST_TOP_UP,
            kind=TransactionKind.TOP_UP,
            amount=100,
            currency="USD",
            destination="wal_a",
            fee=1,
        )


def test_a_reversal_of_a_payment_takes_the_fee_back_too() -> None:
    posted = transfer_transaction("jtx_1", "wal_payer", "wal_merchant", 1_000, "USD", 59)
    reversal = reversal_of("jtx_2", posted)
    assert balances([posted, reversal]) == {"wal_payer": 0, "wal_merchant": 0, "fees:USD": 0}


def test_fee_accounts_are_system_accounts() -> None:
    assert fee_account("EUR") == "fees:EUR"
    assert account_kind("fees:EUR") is AccountKind.FEES
    accounts = [Account(a, "USD", T0) for a in ("wal_a", "funding:USD", "fees:USD")]
    totals = {"wal_a": 941, "funding:USD": -1_000, "fees:USD": 59}
    assert wallet_balances(accounts, totals) == {"wal_a": 941}
    assert system_balances(accounts, totals) == {"funding:USD": -1_000, "fees:USD": 59}


@given(st.lists(st.tuples(st.integers(1, 100_000), st.integers(0, 99_999)), max_size=30))
def test_any_mix_of_payments_with_fees_sums_to_zero_with_wallets_plus_fees_equal_to_funding(
    payments: list[tuple[int, int]],
) -> None:
    transactions = [top_up_transaction("jtx_0", "wal_payer", 10**10, "USD")]
    for i, (amount, fee) in enumerate(payments):
        fee = fee % amount  # always less than the amount
        transactions.append(
            transfer_transaction(f"jtx_{i + 1}", "wal_payer", "wal_merchant", amount, "USD", fee)
        )
    assert all(t.is_balanced for t in transactions)
    totals = balances(transactions)
    assert sum(totals.values()) == 0
    wallets = totals.get("wal_payer", 0) + totals.get("wal_merchant", 0)
    assert wallets + totals.get(fee_account("USD"), 0) == -totals[funding_account("USD")]
