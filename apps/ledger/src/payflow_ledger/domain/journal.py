"""Double-entry bookkeeping: accounts, entries and journal transactions that balance.

One account per wallet (id = wallet id) and one funding account per currency. A wallet
account's balance is its credits minus its debits; a transaction's debits equal its credits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from payflow_ledger.domain.errors import LedgerInvariantError

FUNDING_PREFIX = "funding:"
FEES_PREFIX = "fees:"


class Direction(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Direction:
        return Direction.CREDIT if self is Direction.DEBIT else Direction.DEBIT


class TransactionKind(StrEnum):
    TRANSFER = "transfer"
    TOP_UP = "top_up"
    REVERSAL = "reversal"


class AccountKind(StrEnum):
    WALLET = "wallet"
    FUNDING = "funding"
    FEES = "fees"


def funding_account(currency: str) -> str:
    """The system account top-ups of `currency` are funded from."""
    return f"{FUNDING_PREFIX}{currency}"


def fee_account(currency: str) -> str:
    """The platform's revenue account of `currency`: the fees of payments are credited here."""
    return f"{FEES_PREFIX}{currency}"


def account_kind(account_id: str) -> AccountKind:
    if account_id.startswith(FUNDING_PREFIX):
        return AccountKind.FUNDING
    if account_id.startswith(FEES_PREFIX):
        return AccountKind.FEES
    return AccountKind.WALLET


@dataclass(frozen=True)
class Account:
    id: str
    currency: str
    opened_at: datetime

    @property
    def kind(self) -> AccountKind:
        return account_kind(self.id)


@dataclass(frozen=True)
class Entry:
    account: str
    direction: Direction
    amount: int

    @property
    def signed_amount(self) -> int:
        """The entry's effect on its account's balance (credits minus debits)."""
        return self.amount if self.direction is Direction.CREDIT else -self.amount


@dataclass(frozen=True)
class JournalTransaction:
    """Two or more entries in one currency, written once as one document, never changed."""

    id: str
    kind: TransactionKind
    currency: str
    entries: tuple[Entry, ...]
    reverses: str | None = None

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.account for e in self.entries))

    @property
    def is_balanced(self) -> bool:
        debits = sum(e.amount for e in self.entries if e.direction is Direction.DEBIT)
        credits = sum(e.amount for e in self.entries if e.direction is Direction.CREDIT)
        return (
            len(self.entries) >= 2 and all(e.amount > 0 for e in self.entries) and debits == credits
        )


def transfer_transaction(
    transaction_id: str,
    source: str,
    destination: str,
    amount: int,
    currency: str,
    fee: int = 0,
) -> JournalTransaction:
    """Money leaves the source wallet's account and reaches the destination's; with a fee, the
    destination receives `amount - fee` and the currency's fee account `fee`: one transaction,
    three entries, balanced."""
    if not 0 <= fee < amount:
        raise LedgerInvariantError("a fee is at least 0 and less than the amount")
    entries = [
        Entry(source, Direction.DEBIT, amount),
        Entry(destination, Direction.CREDIT, amount - fee),
    ]
    if fee:
        entries.append(Entry(fee_account(currency), Direction.CREDIT, fee))
    return JournalTransaction(
        id=transaction_id,
        kind=TransactionKind.TRANSFER,
        currency=currency,
        entries=tuple(entries),
    )


def top_up_transaction(
    transaction_id: str, wallet: str, amount: int, currency: str
) -> JournalTransaction:
    """Sandbox funding: the currency's funding account pays the wallet's account."""
    return JournalTransaction(
        id=transaction_id,
        kind=TransactionKind.TOP_UP,
        currency=currency,
        entries=(
            Entry(funding_account(currency), Direction.DEBIT, amount),
            Entry(wallet, Direction.CREDIT, amount),
        ),
    )


def reversal_of(transaction_id: str, original: JournalTransaction) -> JournalTransaction:
    """A new transaction with the opposite entries, linked to the one it undoes."""
    return JournalTransaction(
        id=transaction_id,
        kind=TransactionKind.REVERSAL,
        currency=original.currency,
        entries=tuple(Entry(e.account, e.direction.opposite, e.amount) for e in original.entries),
        reverses=original.id,
    )


def balances(transactions: Iterable[JournalTransaction]) -> dict[str, int]:
    """Each account's balance (credits minus debits) over these transactions."""
    totals: dict[str, int] = defaultdict(int)
    for transaction in transactions:
        for entry in transaction.entries:
            totals[entry.account] += entry.signed_amount
    return dict(totals)


@dataclass(frozen=True)
class JournalCheck:
    balanced: bool
    transactions_checked: int
    unbalanced: tuple[str, ...]


def check_journal(transactions: Iterable[JournalTransaction]) -> JournalCheck:
    checked = 0
    unbalanced: list[str] = []
    for transaction in transactions:
        checked += 1
        if not transaction.is_balanced:
            unbalanced.append(transaction.id)
    return JournalCheck(not unbalanced, checked, tuple(unbalanced))


def wallet_balances(accounts: Iterable[Account], totals: Mapping[str, int]) -> dict[str, int]:
    """The balance of every wallet account, 0 for one opened without postings."""
    return {a.id: totals.get(a.id, 0) for a in accounts if a.kind is AccountKind.WALLET}


def system_balances(accounts: Iterable[Account], totals: Mapping[str, int]) -> dict[str, int]:
    """The balance of every system account: `funding:<CUR>` (minus the top-ups it funded) and
    `fees:<CUR>` (the fees it earned)."""
    return {a.id: totals.get(a.id, 0) for a in accounts if a.kind is not AccountKind.WALLET}
