"""The CSV downloads (`GET /v1/wallets/{wallet_id}/statement.csv`, `GET /v1/transfers/export.csv`),
written page by page.

Both are `StreamingResponse`s over paged reads of the service that holds the rows: the header row
leaves before the first page is read, and each page is written out before the next is asked
for, so memory holds one page whatever the statement's length. The caller's ownership and the
query are checked before the first byte (a refusal is a problem document, as everywhere); a
service failing mid-stream cuts the download short instead of ending it cleanly, so a truncated
file is never mistaken for a whole one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from payflow_gateway.domain.statements import (
    STATEMENT_HEADER,
    TRANSFER_HEADER,
    csv_bytes,
    statement_rows,
    transfer_row,
)
from payflow_gateway.ports import LedgerReader, PaymentServices

STATEMENT_PAGE = 500
TRANSFER_PAGE = 100


async def statement_chunks(
    ledger: LedgerReader,
    wallet_id: str,
    start: datetime | None,
    end: datetime | None,
    page_size: int = STATEMENT_PAGE,
) -> AsyncIterator[bytes]:
    """The header, then one chunk per page of the ledger's statement, running balance included."""
    yield csv_bytes([STATEMENT_HEADER])
    cursor: str | None = None
    balance: int | None = None
    while True:
        page = await ledger.statement_page(wallet_id, start, end, cursor, page_size)
        if balance is None:
            balance = page.opening_balance or 0
        rows, balance = statement_rows(balance, page.entries)
        if rows:
            yield csv_bytes(rows)
        cursor = page.next_cursor
        if not cursor:
            return


async def transfer_chunks(
    services: PaymentServices, params: dict[str, Any], page_size: int = TRANSFER_PAGE
) -> AsyncIterator[bytes]:
    yield csv_bytes([TRANSFER_HEADER])
    cursor: str | None = None
    while True:
        query = {**params, "limit": page_size, **({"cursor": cursor} if cursor else {})}
        page = await services.transfers(query)
        if page.items:
            yield csv_bytes(transfer_row(t) for t in page.items)
        cursor = page.next_cursor
        if not cursor:
            return
