"""`GET /v1/wallets/{wallet_id}/statement.csv` and `GET /v1/transfers/export.csv`.

Both are `StreamingResponse`s over paged reads of the service that holds the rows: the header row
leaves before the first page is read, and each page is written out before the next is asked
for, so memory holds one page whatever the statement's length. The caller's ownership and the
query are checked before the first byte (a refusal is a problem document, as everywhere); a
service failing mid-stream cuts the download short instead of ending it cleanly, so a truncated
file is never mistaken for a whole one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from payflow_gateway.auth.dependencies import CurrentUser
from payflow_gateway.domain.statements import (
    STATEMENT_HEADER,
    TRANSFER_HEADER,
    csv_bytes,
    statement_rows,
    transfer_row,
)
from payflow_gateway.payments.deps import Services, Wallets
from payflow_gateway.payments.schemas import problems
from payflow_gateway.payments.services import PaymentServices
from payflow_gateway.wallets.ledger import LedgerReader
from payflow_service import ProblemError

router = APIRouter(prefix="/v1", tags=["statements"])

STATEMENT_PAGE = 500
TRANSFER_PAGE = 100
CSV = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "RFC 4180 CSV, UTF-8, a header row"}
}


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


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
        if page["data"]:
            yield csv_bytes(transfer_row(t) for t in page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return


@router.get(
    "/wallets/{wallet_id}/statement.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **problems(404, 422)},
    tags=["wallets"],
    summary="The wallet's ledger entries in [from, to) with the running balance, as CSV",
)
async def wallet_statement(
    wallet_id: str,
    user: CurrentUser,
    wallets: Wallets,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
) -> StreamingResponse:
    wallet = await wallets.directory.facts(wallet_id)
    if wallet is None or not wallet.is_owned_by(user.id):
        raise ProblemError(404, "wallet_not_found", "No such wallet.")
    if from_ is not None and to is not None and to <= from_:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[{"loc": "query.to", "msg": "to must be after from"}],
        )
    return StreamingResponse(
        statement_chunks(wallets.ledger, wallet_id, from_, to),
        media_type=CSV,
        headers=_download(f"statement-{wallet_id}.csv"),
    )


@router.get(
    "/transfers/export.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **problems(422)},
    tags=["transfers"],
    summary="The transfer list (same filters as GET /v1/transfers), every page, as CSV",
)
async def export_transfers(
    user: CurrentUser,
    services: Services,
    status: Annotated[str | None, Query(pattern="^(pending|processing|completed|failed)$")] = None,
    wallet_id: str | None = None,
    payment_link_id: str | None = None,
    created_gte: AwareDatetime | None = None,
    created_lte: AwareDatetime | None = None,
) -> StreamingResponse:
    params: dict[str, Any] = {"owner_id": user.id}
    for name, value in (
        ("status", status),
        ("wallet_id", wallet_id),
        ("payment_link_id", payment_link_id),
        ("created_gte", created_gte.isoformat() if created_gte else None),
        ("created_lte", created_lte.isoformat() if created_lte else None),
    ):
        if value is not None:
            params[name] = value
    return StreamingResponse(
        transfer_chunks(services, params),
        media_type=CSV,
        headers=_download("transfers.csv"),
    )
