"""CSV statements: RFC 4180 rows, the running balance, formula-looking text neutralised, and the
stream: the first bytes leave before the last page is read, one page in memory at a time."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from payflow_contracts.transfers import TRANSFER_EXAMPLE, TransferPublic, TransferView
from payflow_gateway.domain.pages import Page
from payflow_gateway.domain.statements import (
    STATEMENT_HEADER,
    TRANSFER_HEADER,
    csv_bytes,
    statement_rows,
    text_cell,
    transfer_row,
)
from payflow_gateway.domain.wallets import LedgerEntry, StatementPage
from payflow_gateway.statements import statement_chunks, transfer_chunks

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)  # pure functions and twins: no clock involved


def entry(i: int, direction: str, amount: int) -> LedgerEntry:
    return LedgerEntry(
        id=f"jtx_{i:06d}.0",
        transfer_id=f"tr_{i:06d}",
        direction=direction,
        amount=amount,
        currency="USD",
        kind="transfer",
        created_at=T0 + timedelta(seconds=i),
    )


def parse(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_rows_carry_the_running_balance_from_the_opening_one() -> None:
    rows, closing = statement_rows(
        100, [entry(1, "credit", 50), entry(2, "debit", 30), entry(3, "debit", 120)]
    )
    assert [row[-1] for row in rows] == [150, 120, 0]
    assert closing == 0
    assert rows[0][:3] == ("2026-11-22T12:00:01Z", "jtx_000001.0", "tr_000001")


def test_the_csv_is_rfc_4180_with_crlf_and_quoting() -> None:
    data = csv_bytes([("a", 'say "hi"', "x,y", "two\nlines", "é")])
    assert data == 'a,"say ""hi""","x,y","two\nlines",é\r\n'.encode()
    assert parse(data) == [["a", 'say "hi"', "x,y", "two\nlines", "é"]]


def test_text_that_a_spreadsheet_would_run_is_shown_as_text() -> None:
    assert text_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert [text_cell(t) for t in ("+1", "-1", "@x", "dinner", None)] == [
        "'+1",
        "'-1",
        "'@x",
        "dinner",
        "",
    ]


def test_a_transfer_row_has_every_column_of_the_header() -> None:
    transfer: dict[str, Any] = {
        "id": "tr_1",
        "created_at": "2026-11-22T12:00:00Z",
        "completed_at": None,
        "kind": "transfer",
        "status": "completed",
        "state": "completed",
        "amount": 1_000,
        "fee": 59,
        "net_amount": 941,
        "currency": "USD",
        "source_wallet_id": "wal_a",
        "destination_wallet_id": "wal_b",
        "description": "=cmd",
        "failure_code": None,
        "refund_of": None,
        "refunded_amount": 0,
        "payment_link_id": "pl_1",
    }
    row = transfer_row(TransferPublic.model_validate({**TRANSFER_EXAMPLE, **transfer}))
    assert len(row) == len(TRANSFER_HEADER)
    assert dict(zip(TRANSFER_HEADER, row, strict=True))["description"] == "'=cmd"


class PagedLedger:
    """A test double of `LedgerReader.statement_page` (the real one pages the ledger's journal:
    `apps/ledger/tests/integration/test_statements.py`), counting the pages asked for."""

    def __init__(self) -> None:
        self.entries: list[LedgerEntry] = []
        self.pages_read = 0

    def post(self, wallet_id: str, entry: LedgerEntry) -> None:
        self.entries.append(entry)

    async def statement_page(
        self,
        wallet_id: str,
        start: datetime | None,
        end: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> StatementPage:
        self.pages_read += 1

        def signed(entry: LedgerEntry) -> int:
            return entry.amount if entry.direction == "credit" else -entry.amount

        window = [
            e
            for e in self.entries
            if (start is None or e.created_at >= start) and (end is None or e.created_at < end)
        ]
        offset = int(cursor) if cursor else 0
        opening = None
        if cursor is None:
            opening = sum(signed(e) for e in self.entries if start and e.created_at < start)
        more = offset + limit < len(window)
        return StatementPage(
            opening, window[offset : offset + limit], str(offset + limit) if more else None
        )


async def test_fifty_thousand_rows_stream_page_by_page_and_the_first_bytes_leave_first() -> None:
    ledger = PagedLedger()
    for i in range(50_000):
        ledger.post("wal_s", entry(i, "credit" if i % 2 == 0 else "debit", 3 if i % 2 == 0 else 1))
    chunks = statement_chunks(ledger, "wal_s", None, None, page_size=500)
    header = await anext(chunks)
    assert parse(header) == [list(STATEMENT_HEADER)]
    assert ledger.pages_read == 0  # the header left before anything was read
    first_page = await anext(chunks)
    assert ledger.pages_read == 1  # ... and the first rows before the second page was read
    assert len(parse(first_page)) == 500
    rows = parse(first_page)
    largest = len(first_page)
    async for chunk in chunks:
        rows += parse(chunk)
        largest = max(largest, len(chunk))
    assert ledger.pages_read == 100
    assert len(rows) == 50_000
    assert rows[-1][-1] == str(25_000 * 3 - 25_000)  # the running balance at the end
    assert largest < 64 * 1024  # one page at a time, never the whole statement


async def test_a_window_opens_with_the_balance_before_it() -> None:
    ledger = PagedLedger()
    for i in range(10):
        ledger.post("wal_s", entry(i, "credit", 10))
    chunks = [
        c
        async for c in statement_chunks(
            ledger, "wal_s", T0 + timedelta(seconds=4), T0 + timedelta(seconds=7), page_size=2
        )
    ]
    rows = [row for c in chunks[1:] for row in parse(c)]
    assert [(row[2], row[-1]) for row in rows] == [
        ("tr_000004", "50"),
        ("tr_000005", "60"),
        ("tr_000006", "70"),
    ]


class PagedTransfers:
    def __init__(self, count: int) -> None:
        self.items = [
            TransferView.model_validate(
                {
                    **TRANSFER_EXAMPLE,
                    "id": f"tr_{i}",
                    "kind": "transfer",
                    "status": "completed",
                    "state": "completed",
                    "amount": i + 1,
                    "net_amount": i + 1,
                    "currency": "USD",
                    "destination_wallet_id": "wal_b",
                }
            )
            for i in range(count)
        ]
        self.queries: list[dict[str, Any]] = []

    async def transfers(self, params: dict[str, Any]) -> Page[TransferView]:
        self.queries.append(params)
        start = int(params.get("cursor", 0))
        end = start + params["limit"]
        return Page(self.items[start:end], str(end) if end < len(self.items) else None)


async def test_the_transfer_export_follows_every_page_with_the_filters() -> None:
    services = PagedTransfers(250)
    chunks = transfer_chunks(services, {"owner_id": "usr_a", "status": "completed"})  # type: ignore[arg-type]
    assert parse(await anext(chunks)) == [list(TRANSFER_HEADER)]
    assert services.queries == []
    rows = [row async for chunk in chunks for row in parse(chunk)]
    assert [row[0] for row in rows] == [f"tr_{i}" for i in range(250)]
    assert len(services.queries) == 3
    assert all(q["status"] == "completed" and q["owner_id"] == "usr_a" for q in services.queries)
