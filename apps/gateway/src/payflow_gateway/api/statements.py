"""`GET /v1/wallets/{wallet_id}/statement.csv` and `GET /v1/transfers/export.csv`: streamed page
by page (`payflow_gateway.statements`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from payflow_gateway.deps import CurrentUser, Ledger, Services, TransferFilters, Wallets
from payflow_gateway.domain.errors import WalletNotFound
from payflow_gateway.problems import problem_responses
from payflow_gateway.statements import statement_chunks, transfer_chunks
from payflow_service import ProblemError

router = APIRouter(prefix="/v1", tags=["statements"])

CSV = "text/csv; charset=utf-8"
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "RFC 4180 CSV, UTF-8, a header row",
    }
}


def _download(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get(
    "/wallets/{wallet_id}/statement.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **problem_responses(401, 404, 422)},
    tags=["wallets"],
    summary="The wallet's ledger entries in [from, to) with the running balance, as CSV",
)
async def wallet_statement(
    wallet_id: str,
    user: CurrentUser,
    wallets: Wallets,
    ledger: Ledger,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
) -> StreamingResponse:
    wallet = await wallets.facts(wallet_id)
    if wallet is None or not wallet.is_owned_by(user.id):
        raise WalletNotFound(wallet_id)
    if from_ is not None and to is not None and to <= from_:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[{"loc": "query.to", "msg": "to must be after from"}],
        )
    return StreamingResponse(
        statement_chunks(ledger, wallet_id, from_, to),
        media_type=CSV,
        headers=_download(f"statement-{wallet_id}.csv"),
    )


@router.get(
    "/transfers/export.csv",
    response_class=StreamingResponse,
    responses={**CSV_RESPONSE, **problem_responses(401, 422)},
    tags=["transfers"],
    summary="The transfer list (same filters as GET /v1/transfers), every page, as CSV",
)
async def export_transfers(services: Services, params: TransferFilters) -> StreamingResponse:
    return StreamingResponse(
        transfer_chunks(services, params),
        media_type=CSV,
        headers=_download("transfers.csv"),
    )
