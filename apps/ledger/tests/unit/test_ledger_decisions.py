"""The ledger's bookkeeping and decisions as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payflow_contracts.faults import FaultAction, fault_action
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_ledger.domain.journal import (
    Account,
    Direction,
    Entry,
    JournalTransaction,
    TransactionKind,
    balances,
    check_journal,
    funding_account,
    reversal_of,
    top_up_transaction,
    transfer_transaction,
    wallet_balances,
)
from payflow_ledger.domain.postings import (
    LedgerRecord,
    LedgerVerdict,
    PostingRequest,
    ReversalRequest,
    cancelled_posting,
    decide_posting,
    decide_reversal,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def transfer(amount: int = 100, source: str = "wal_a", fault: bool = False) -> PostingRequest:
    return PostingRequest(
        saga_id="tr_1",
        step=SagaStep.POST_TRANSFER,
        kind=TransactionKind.TRANSFER,
        amount=amount,
        currency="USD",
        source=source,
        destination="wal_b",
        fault_reject=fault,
    )


def top_up(amount: int = 100) -> PostingRequest:
    return PostingRequest(
        saga_id="tr_2",
        step=SagaStep.POST_TOP_UP,
        kind=TransactionKind.TOP_UP,
        amount=amount,
        currency="EUR",
        destination="wal_b",
    )


REVERSAL = ReversalRequest("tr_1", SagaStep.REVERSE_POSTING, SagaStep.POST_TRANSFER)


def test_a_transfer_debits_the_source_account_and_credits_the_destination() -> None:
    record = decide_posting(transfer(), {"wal_a": "USD", "wal_b": "USD"}, "jtx_1", T0)
    assert record.verdict is LedgerVerdict.POSTED and record.outcome is StepOutcome.POSTED
    assert record.operation_id == "tr_1:post_transfer"
    assert record.transaction == JournalTransaction(
        "jtx_1",
        TransactionKind.TRANSFER,
        "USD",
        (Entry("wal_a", Direction.DEBIT, 100), Entry("wal_b", Direction.CREDIT, 100)),
    )
    assert balances([record.transaction]) == {"wal_a": -100, "wal_b": 100}


def test_a_top_up_is_funded_by_the_currency_funding_account() -> None:
    record = decide_posting(top_up(), {"funding:EUR": "EUR", "wal_b": "EUR"}, "jtx_2", T0)
    assert record.transaction is not None
    assert record.transaction.accounts == ("funding:EUR", "wal_b")
    assert balances([record.transaction]) == {"funding:EUR": -100, "wal_b": 100}
    assert top_up().accounts == (funding_account("EUR"), "wal_b")


@pytest.mark.parametrize(
    ("request_", "currencies", "verdict"),
    [
        (transfer(), {"wal_a": "USD", "wal_b": "EUR"}, LedgerVerdict.CURRENCY_MISMATCH),
        (transfer(source="wal_b"), {"wal_b": "USD"}, LedgerVerdict.SAME_ACCOUNT),
        (transfer(fault=True), {}, LedgerVerdict.FAULT_REJECTED),
    ],
)
def test_a_posting_the_ledger_cannot_take_is_rejected_without_a_transaction(
    request_: PostingRequest, currencies: dict[str, str], verdict: LedgerVerdict
) -> None:
    record = decide_posting(request_, currencies, "jtx_1", T0)
    assert record.verdict is verdict
    assert record.transaction is None
    assert record.outcome is StepOutcome.LEDGER_REJECTED
    assert record.reason


def test_a_reversal_writes_the_opposite_entries_linked_to_the_posting() -> None:
    posting = decide_posting(transfer(), {"wal_a": "USD", "wal_b": "USD"}, "jtx_1", T0)
    reversal = decide_reversal(REVERSAL, posting, "jtx_9", T0)
    assert reversal.outcome is StepOutcome.REVERSED
    assert reversal.operation_id == "tr_1:reverse_posting"
    assert reversal.transaction is not None and posting.transaction is not None
    assert reversal.transaction.reverses == "jtx_1"
    assert reversal.transaction.kind is TransactionKind.REVERSAL
    assert balances([posting.transaction, reversal.transaction]) == {"wal_a": 0, "wal_b": 0}


def test_a_reversal_before_its_posting_leaves_a_tombstone_that_refuses_the_late_posting() -> None:
    tombstone = cancelled_posting(REVERSAL, T0)
    assert tombstone.operation_id == "tr_1:post_transfer"
    assert tombstone.step is SagaStep.POST_TRANSFER
    assert tombstone.transaction is None
    assert tombstone.outcome is StepOutcome.LEDGER_REJECTED  # what the late posting answers
    reversal = decide_reversal(REVERSAL, tombstone, "jtx_9", T0)
    assert reversal.outcome is StepOutcome.POSTING_CANCELLED and reversal.transaction is None


def test_a_reversal_of_a_rejected_posting_has_nothing_to_undo() -> None:
    rejected = decide_posting(transfer(fault=True), {}, "jtx_1", T0)
    assert (
        decide_reversal(REVERSAL, rejected, "jtx_9", T0).verdict is LedgerVerdict.POSTING_CANCELLED
    )


def test_a_reversal_refuses_a_posting_of_another_step() -> None:
    other = decide_posting(top_up(), {"funding:EUR": "EUR", "wal_b": "EUR"}, "jtx_2", T0)
    with pytest.raises(ValueError, match="is not the posting"):
        decide_reversal(REVERSAL, other, "jtx_9", T0)


def test_a_record_refuses_an_unbalanced_transaction_or_a_transaction_on_a_refusal() -> None:
    lopsided = JournalTransaction(
        "jtx_x",
        TransactionKind.TRANSFER,
        "USD",
        (Entry("a", Direction.DEBIT, 10), Entry("b", Direction.CREDIT, 9)),
    )
    with pytest.raises(ValueError, match="does not balance"):
        LedgerRecord(
            "tr_1:post_transfer", "tr_1", SagaStep.POST_TRANSFER, LedgerVerdict.POSTED, T0, lopsided
        )
    with pytest.raises(ValueError, match="carry a transaction"):
        LedgerRecord(
            "tr_1:post_transfer",
            "tr_1",
            SagaStep.POST_TRANSFER,
            LedgerVerdict.CANCELLED,
            T0,
            lopsided,
        )
    with pytest.raises(ValueError, match="carry a transaction"):
        LedgerRecord("tr_1:post_transfer", "tr_1", SagaStep.POST_TRANSFER, LedgerVerdict.POSTED, T0)


def test_the_journal_check_names_every_transaction_that_does_not_balance() -> None:
    good = transfer_transaction("jtx_1", "a", "b", 10, "USD")
    one_sided = JournalTransaction(
        "jtx_2", TransactionKind.TRANSFER, "USD", (Entry("a", Direction.DEBIT, 10),)
    )
    negative = JournalTransaction(
        "jtx_3",
        TransactionKind.TRANSFER,
        "USD",
        (Entry("a", Direction.DEBIT, -5), Entry("b", Direction.CREDIT, -5)),
    )
    report = check_journal([good, one_sided, negative])
    assert (report.balanced, report.transactions_checked, report.unbalanced) == (
        False,
        3,
        ("jtx_2", "jtx_3"),
    )
    assert check_journal([good]).balanced and check_journal([]).balanced


def test_wallet_balances_leave_out_funding_accounts_and_show_unposted_accounts_as_zero() -> None:
    accounts = [
        Account("wal_a", "USD", T0),
        Account("wal_z", "USD", T0),
        Account("funding:USD", "USD", T0),
    ]
    totals = balances([top_up_transaction("jtx_1", "wal_a", 70, "USD")])
    assert wallet_balances(accounts, totals) == {"wal_a": 70, "wal_z": 0}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["wal_a", "wal_b", "wal_c"]), st.integers(1, 10_000), st.booleans()
        ),
        max_size=30,
    )
)
def test_any_mix_of_top_ups_transfers_and_reversals_balances_and_sums_to_zero(
    moves: list[tuple[str, int, bool]],
) -> None:
    transactions: list[JournalTransaction] = []
    for i, (wallet, amount, reverse) in enumerate(moves):
        made = (
            top_up_transaction(f"jtx_{i}", wallet, amount, "USD")
            if i % 2 == 0
            else transfer_transaction(f"jtx_{i}", wallet, "wal_d", amount, "USD")
        )
        transactions.append(made)
        if reverse:
            transactions.append(reversal_of(f"jtx_{i}r", made))
    assert check_journal(transactions).balanced
    assert sum(balances(transactions).values()) == 0


def test_an_invalid_posting_request_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        transfer(amount=0)
    with pytest.raises(ValueError, match="source"):
        PostingRequest(
            "tr_1", SagaStep.POST_TOP_UP, TransactionKind.TOP_UP, 1, "USD", "wal_b", source="wal_a"
        )
    with pytest.raises(ValueError, match="reversal"):
        PostingRequest("tr_1", SagaStep.POST_TOP_UP, TransactionKind.REVERSAL, 1, "USD", "wal_b")


def test_faults_apply_to_postings_outside_production_only() -> None:
    assert fault_action("reject", enabled=True, compensation=False) is FaultAction.REJECT
    assert fault_action("reject", enabled=False, compensation=False) is FaultAction.NONE
    assert fault_action("error", enabled=True, compensation=True) is FaultAction.NONE
