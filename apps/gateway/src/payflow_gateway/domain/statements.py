"""CSV statements (RFC 4180: CRLF line ends, a header row, fields quoted when they hold a comma,
a quote or a line break; UTF-8): a wallet's ledger entries with their running balance, and a list
of transfers. Pure: the routes stream what these functions write, one page at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

from payflow_contracts.transfers import TransferPublic
from payflow_gateway.domain.wallets import LedgerEntry

STATEMENT_HEADER = (
    "created_at",
    "entry_id",
    "transfer_id",
    "kind",
    "direction",
    "amount",
    "currency",
    "balance",
)
"""`amount` is positive minor units, `direction` says which way; `balance` is the wallet's
balance once the entry is counted."""

TRANSFER_HEADER = (
    "id",
    "created_at",
    "completed_at",
    "kind",
    "status",
    "state",
    "amount",
    "fee",
    "net_amount",
    "currency",
    "source_wallet_id",
    "destination_wallet_id",
    "description",
    "failure_code",
    "refund_of",
    "refunded_amount",
    "payment_link_id",
)

# A cell a spreadsheet would run as a formula (CSV injection): shown as text instead.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str | None) -> str:
    if not value:
        return ""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _iso(value: Any) -> str:
    text = value.isoformat() if hasattr(value, "isoformat") else str(value or "")
    return text.replace("+00:00", "Z")


def statement_rows(
    balance: int, entries: Iterable[LedgerEntry]
) -> tuple[list[tuple[Any, ...]], int]:
    """The rows of `entries` (oldest first) after `balance`, and the balance after them."""
    rows: list[tuple[Any, ...]] = []
    for entry in entries:
        balance += entry.amount if entry.direction == "credit" else -entry.amount
        rows.append(
            (
                _iso(entry.created_at),
                entry.id,
                entry.transfer_id or "",
                entry.kind,
                entry.direction,
                entry.amount,
                entry.currency,
                balance,
            )
        )
    return rows, balance


def transfer_row(transfer: TransferPublic) -> tuple[Any, ...]:
    return (
        transfer.id,
        _iso(transfer.created_at),
        _iso(transfer.completed_at),
        transfer.kind,
        transfer.status,
        transfer.state,
        transfer.amount,
        transfer.fee,
        transfer.net_amount,
        transfer.currency,
        transfer.source_wallet_id or "",
        transfer.destination_wallet_id,
        text_cell(transfer.description),
        transfer.failure_code or "",
        transfer.refund_of or "",
        transfer.refunded_amount,
        transfer.payment_link_id or "",
    )
