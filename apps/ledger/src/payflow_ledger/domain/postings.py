"""How the ledger decides a saga step: post a transfer or a top-up, or reverse a posting.

Every step's decision is ONE document whose id is the step's operation id: inserting it is the
arbiter (the first insert wins, every repeat reads it back). A reversal that finds no posting
inserts a tombstone under the posting's id first, so a posting arriving late finds its step
decided as cancelled and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from payflow_contracts.paging import PagePosition
from payflow_contracts.saga import SagaStep, StepOutcome, operation_id
from payflow_ledger.domain.errors import LedgerInvariantError
from payflow_ledger.domain.journal import (
    JournalTransaction,
    TransactionKind,
    fee_account,
    funding_account,
    reversal_of,
    top_up_transaction,
    transfer_transaction,
)


class LedgerVerdict(StrEnum):
    POSTED = "posted"
    REVERSED = "reversed"
    POSTING_CANCELLED = "posting_cancelled"
    """A reversal that found nothing to reverse."""
    CANCELLED = "cancelled"
    """A posting settled by its saga's reversal before it arrived (a tombstone)."""
    CURRENCY_MISMATCH = "currency_mismatch"
    SAME_ACCOUNT = "same_account"
    FAULT_REJECTED = "fault_rejected"


_OUTCOMES: Mapping[LedgerVerdict, StepOutcome] = {
    LedgerVerdict.POSTED: StepOutcome.POSTED,
    LedgerVerdict.REVERSED: StepOutcome.REVERSED,
    LedgerVerdict.POSTING_CANCELLED: StepOutcome.POSTING_CANCELLED,
}

REASONS: Mapping[LedgerVerdict, str | None] = {
    LedgerVerdict.POSTED: None,
    LedgerVerdict.REVERSED: None,
    LedgerVerdict.POSTING_CANCELLED: "the posting never took effect; it is cancelled",
    LedgerVerdict.CANCELLED: "the saga cancelled this posting before it arrived",
    LedgerVerdict.CURRENCY_MISMATCH: "an account holds another currency",
    LedgerVerdict.SAME_ACCOUNT: "source and destination are the same account",
    LedgerVerdict.FAULT_REJECTED: "rejected by a sandbox fault rule",
}


def outcome_for(verdict: LedgerVerdict) -> StepOutcome:
    """Every refusal of a posting, a late one included, answers `ledger_rejected`."""
    return _OUTCOMES.get(verdict, StepOutcome.LEDGER_REJECTED)


@dataclass(frozen=True)
class LedgerRecord:
    """The decision of one saga step, with the journal transaction it wrote, if any."""

    operation_id: str
    saga_id: str
    step: SagaStep
    verdict: LedgerVerdict
    recorded_at: datetime = field(compare=False)
    transaction: JournalTransaction | None = None

    def __post_init__(self) -> None:
        if (self.transaction is not None) != (
            self.verdict in (LedgerVerdict.POSTED, LedgerVerdict.REVERSED)
        ):
            raise LedgerInvariantError("exactly the postings and reversals carry a transaction")
        if self.transaction is not None and not self.transaction.is_balanced:
            raise LedgerInvariantError(
                f"journal transaction {self.transaction.id} does not balance"
            )

    @property
    def outcome(self) -> StepOutcome:
        return outcome_for(self.verdict)

    @property
    def reason(self) -> str | None:
        return REASONS[self.verdict]


@dataclass(frozen=True)
class PostingRequest:
    """A transfer (source -> destination) or a top-up (funding -> wallet) to post."""

    saga_id: str
    step: SagaStep
    kind: TransactionKind
    amount: int
    currency: str
    destination: str
    source: str | None = None
    fault_reject: bool = False
    fee: int = 0
    """Of `amount`, what the currency's fee account receives instead of the destination."""

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise LedgerInvariantError("a posting moves a strictly positive amount")
        if not 0 <= self.fee < self.amount:
            raise LedgerInvariantError("a fee is at least 0 and less than the amount")
        if self.fee and self.source is None:
            raise LedgerInvariantError("only a transfer carries a fee")
        if (self.kind is TransactionKind.TRANSFER) != (self.source is not None):
            raise LedgerInvariantError("a transfer has a source account and a top-up has none")
        if self.kind is TransactionKind.REVERSAL:
            raise LedgerInvariantError("a reversal is not posted directly")

    @property
    def operation_id(self) -> str:
        return operation_id(self.saga_id, self.step)

    @property
    def accounts(self) -> tuple[str, ...]:
        """The accounts the posting touches, each of which must be in the posting's currency."""
        if self.source is not None:
            fees = (fee_account(self.currency),) if self.fee else ()
            return (self.source, self.destination, *fees)
        return (funding_account(self.currency), self.destination)


def decide_posting(
    request: PostingRequest,
    account_currencies: Mapping[str, str],
    transaction_id: str,
    now: datetime,
) -> LedgerRecord:
    """Post, or refuse to. `account_currencies` holds the currency of every account touched."""

    def refused(verdict: LedgerVerdict) -> LedgerRecord:
        return LedgerRecord(request.operation_id, request.saga_id, request.step, verdict, now)

    if request.fault_reject:
        return refused(LedgerVerdict.FAULT_REJECTED)
    if request.source == request.destination:
        return refused(LedgerVerdict.SAME_ACCOUNT)
    if any(account_currencies[a] != request.currency for a in request.accounts):
        return refused(LedgerVerdict.CURRENCY_MISMATCH)
    if request.source is not None:
        transaction = transfer_transaction(
            transaction_id,
            request.source,
            request.destination,
            request.amount,
            request.currency,
            request.fee,
        )
    else:
        transaction = top_up_transaction(
            transaction_id, request.destination, request.amount, request.currency
        )
    return LedgerRecord(
        request.operation_id,
        request.saga_id,
        request.step,
        LedgerVerdict.POSTED,
        now,
        transaction,
    )


@dataclass(frozen=True)
class ReversalRequest:
    saga_id: str
    step: SagaStep
    reverses: SagaStep

    @property
    def operation_id(self) -> str:
        return operation_id(self.saga_id, self.step)

    @property
    def posting_operation_id(self) -> str:
        return operation_id(self.saga_id, self.reverses)


def cancelled_posting(request: ReversalRequest, now: datetime) -> LedgerRecord:
    """The tombstone a reversal leaves for a posting that has not arrived."""
    return LedgerRecord(
        request.posting_operation_id,
        request.saga_id,
        request.reverses,
        LedgerVerdict.CANCELLED,
        now,
    )


def decide_reversal(
    request: ReversalRequest, posting: LedgerRecord, transaction_id: str, now: datetime
) -> LedgerRecord:
    """Reverse the posting if it wrote a transaction; otherwise there is nothing to undo."""
    if posting.operation_id != request.posting_operation_id:
        raise LedgerInvariantError(
            f"{posting.operation_id} is not the posting {request.operation_id} undoes"
        )
    if posting.transaction is None:
        return LedgerRecord(
            request.operation_id,
            request.saga_id,
            request.step,
            LedgerVerdict.POSTING_CANCELLED,
            now,
        )
    return LedgerRecord(
        request.operation_id,
        request.saga_id,
        request.step,
        LedgerVerdict.REVERSED,
        now,
        reversal_of(transaction_id, posting.transaction),
    )


def position_of(record: LedgerRecord) -> PagePosition:
    """Where a record with a transaction sits in its accounts' statements."""
    assert record.transaction is not None
    return PagePosition(record.recorded_at, record.transaction.id)
