"""Public routes: transfers, top-ups, refunds, and the live transfer stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse

from payflow_contracts.transfers import TransferPublic, TransferView
from payflow_gateway.api.checks import check_amount, check_currency
from payflow_gateway.api.schemas import RefundCreate, TopUpCreate, TransferCreate, TransferList
from payflow_gateway.deps import (
    CurrentUser,
    Idempotent,
    Live,
    Services,
    Settings,
    Streams,
    TransferFilters,
    Wallets,
)
from payflow_gateway.domain.errors import (
    RefundByNonRecipient,
    RefundOfIncompleteTransfer,
    SameWallet,
    SandboxOnly,
    TransferCurrencyMismatch,
    TransferNotFound,
    WalletNotFound,
)
from payflow_gateway.domain.idempotency import MAX_KEY_LENGTH
from payflow_gateway.ports import PaymentServices
from payflow_gateway.problems import problem_responses
from payflow_gateway.transfers import (
    INTERNAL_FIELDS,
    TERMINAL,
    answer,
    await_terminal,
    public_body,
    wait_seconds,
)

router = APIRouter(prefix="/v1", tags=["transfers"])

SSE_QUIET_READ_S = 2.0

# The money-moving routes: their Idempotency-Key (checked by run_idempotently, which answers 400
# without one) and the 200 of `Prefer: wait=N`, in the OpenAPI document.
MONEY_ROUTE: dict[str, Any] = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": True,
            "description": "One key per intended payment; a retry sends the same key",
            "schema": {"type": "string", "pattern": f"^[!-~]{{1,{MAX_KEY_LENGTH}}}$"},
        }
    ]
}
TERMINAL_ANSWER: dict[str, Any] = {
    "model": TransferPublic,
    "description": "The transfer, terminal, when `Prefer: wait=N` was sent and it finished in time",
}

MONEY_MOVING: dict[str, Any] = {
    "status_code": 202,
    "response_model": TransferPublic,
    "responses": {200: TERMINAL_ANSWER, **problem_responses(400, 401, 404, 409, 422)},
    "openapi_extra": MONEY_ROUTE,
}
"""The route arguments of the transfers, top-ups and refunds: 202 (200 with `Prefer: wait`)."""


def transfer_response(transfer: TransferPublic) -> Response:
    """The transfer resource, serialized straight from the typed view."""
    return Response(
        transfer.model_dump_json(exclude=INTERNAL_FIELDS), media_type="application/json"
    )


async def owned_transfer(services: PaymentServices, transfer_id: str, user_id: str) -> TransferView:
    transfer = await services.transfer(transfer_id)
    if transfer is None or user_id not in transfer.owner_ids:
        raise TransferNotFound(transfer_id)
    return transfer


@router.post(
    "/transfers",
    **MONEY_MOVING,
    summary="Move money between wallets (saga); requires an Idempotency-Key header",
)
async def create_transfer(
    body: TransferCreate,
    request: Request,
    user: CurrentUser,
    services: Services,
    wallets: Wallets,
    idempotent: Idempotent,
    settings: Settings,
    live: Live,
) -> JSONResponse:
    check_amount(body.amount, settings)
    check_currency(body.currency, settings)
    if body.source_wallet_id == body.destination_wallet_id:
        raise SameWallet(body.source_wallet_id)
    wait = wait_seconds(request.headers.get("prefer", ""))

    async def work() -> tuple[int, dict[str, Any]]:
        source, destination = await asyncio.gather(
            wallets.facts(body.source_wallet_id), wallets.facts(body.destination_wallet_id)
        )
        if source is None or not source.is_owned_by(user.id):
            raise WalletNotFound(body.source_wallet_id)
        if destination is None:
            raise WalletNotFound(body.destination_wallet_id)
        if source.currency != body.currency or destination.currency != body.currency:
            raise TransferCurrencyMismatch(body.currency)
        transfer = await services.start_transfer(
            {
                "initiator_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                "kind": "transfer",
                "source_wallet_id": body.source_wallet_id,
                "destination_wallet_id": body.destination_wallet_id,
                "amount": body.amount,
                "currency": body.currency,
                "description": body.description,
                "metadata": body.metadata,
                "owner_ids": [user.id, destination.owner_id],
            }
        )
        return await answer(services, live, transfer, wait)

    return await idempotent.run(request, user.id, body.model_dump(mode="json"), work)


@router.post(
    "/wallets/{wallet_id}/top-ups",
    **MONEY_MOVING,
    tags=["wallets"],
    summary="Sandbox funding from the system funding account (not in production)",
)
async def create_top_up(
    wallet_id: str,
    body: TopUpCreate,
    request: Request,
    user: CurrentUser,
    services: Services,
    wallets: Wallets,
    idempotent: Idempotent,
    settings: Settings,
    live: Live,
) -> JSONResponse:
    if settings.is_production:
        raise SandboxOnly()
    check_amount(body.amount, settings)
    wait = wait_seconds(request.headers.get("prefer", ""))

    async def work() -> tuple[int, dict[str, Any]]:
        wallet = await wallets.facts(wallet_id)
        if wallet is None or not wallet.is_owned_by(user.id):
            raise WalletNotFound(wallet_id)
        transfer = await services.start_transfer(
            {
                "initiator_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                "kind": "top_up",
                "destination_wallet_id": wallet_id,
                "amount": body.amount,
                "currency": wallet.currency,
                "description": "sandbox top-up",
                "metadata": {},
                "owner_ids": [user.id],
            }
        )
        return await answer(services, live, transfer, wait)

    return await idempotent.run(
        request, user.id, {"wallet_id": wallet_id, **body.model_dump()}, work
    )


@router.post(
    "/transfers/{transfer_id}/refund",
    **MONEY_MOVING,
    summary="Return part or all of a completed transfer to its sender (by its recipient); a saga",
)
async def refund_transfer(
    transfer_id: str,
    request: Request,
    user: CurrentUser,
    services: Services,
    wallets: Wallets,
    idempotent: Idempotent,
    settings: Settings,
    live: Live,
    body: RefundCreate | None = None,
) -> JSONResponse:
    """Only the recipient may refund, only a completed transfer. Each Idempotency-Key is one
    refund of `amount` (default: all that is left); partial refunds follow each other until the
    original amount is used up (`refund_exceeds_remaining` past it). A refund that fails gives
    its share back."""
    amount = body.amount if body is not None else None
    if amount is not None:
        check_amount(amount, settings)
    wait = wait_seconds(request.headers.get("prefer", ""))

    async def work() -> tuple[int, dict[str, Any]]:
        original = await owned_transfer(services, transfer_id, user.id)
        recipient_wallet = await wallets.facts(original.destination_wallet_id)
        if recipient_wallet is None or not recipient_wallet.is_owned_by(user.id):
            raise RefundByNonRecipient(transfer_id)
        if original.kind != "transfer" or original.status != "completed":
            raise RefundOfIncompleteTransfer(transfer_id)
        refund = await services.start_refund(
            transfer_id,
            {
                "initiator_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                "amount": amount,
            },
        )
        return await answer(services, live, refund, wait)

    return await idempotent.run(request, user.id, {"refund": transfer_id, "amount": amount}, work)


@router.get(
    "/transfers/{transfer_id}",
    response_model=TransferPublic,
    responses=problem_responses(401, 404),
    summary="A transfer; with `Prefer: wait=N` (N <= 10), answered once it is terminal or N s passed",
)
async def get_transfer(
    transfer_id: str, request: Request, user: CurrentUser, services: Services, live: Live
) -> Response:
    transfer: TransferPublic = await owned_transfer(services, transfer_id, user.id)
    wait = wait_seconds(request.headers.get("prefer", ""))
    if wait:
        transfer = await await_terminal(services, live, transfer, wait)
    return transfer_response(transfer)


@router.get("/transfers", response_model=TransferList, responses=problem_responses(400, 401, 422))
async def list_transfers(
    services: Services,
    params: TransferFilters,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> Response:
    params["limit"] = limit
    if cursor is not None:
        params["cursor"] = cursor
    page = await services.transfers(params)
    return transfer_list_response(page.items, page.next_cursor)


def transfer_list_response(transfers: list[TransferView], next_cursor: str | None) -> Response:
    # Typed as `TransferPublic`, the views are serialized without whom they concern.
    listed = TransferList(data=list(transfers), next_cursor=next_cursor)
    return Response(listed.model_dump_json(), media_type="application/json")


@router.get(
    "/transfers/{transfer_id}/stream",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "A `transfer` event per state change; each `data` is the transfer "
            "as `GET /v1/transfers/{id}` shows it (`TransferPublic`). The stream ends once the "
            "transfer is completed or failed.",
            "content": {
                "text/event-stream": {
                    # One server-sent event: its type and its data, a TransferPublic as JSON.
                    "schema": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string", "const": "transfer"},
                            "data": {
                                "type": "string",
                                "contentMediaType": "application/json",
                                "contentSchema": {"$ref": "#/components/schemas/TransferPublic"},
                            },
                        },
                        "required": ["event", "data"],
                    },
                    "example": 'event: transfer\ndata: {"id": "trf_...", "status": '
                    '"processing", "state": "crediting_destination", ...}\n\n',
                }
            },
        },
        **problem_responses(401, 404),
    },
    summary="Server-sent events of the transfer's state changes until it is terminal",
)
async def stream_transfer(
    transfer_id: str, user: CurrentUser, services: Services, live: Live, streams: Streams
) -> EventSourceResponse:
    first: TransferPublic = await owned_transfer(services, transfer_id, user.id)
    lease = await streams.take(user.id)  # 429 too_many_streams past the cap

    def frame(view: TransferPublic) -> dict[str, str]:
        return {"event": "transfer", "data": json.dumps(public_body(view))}

    async def events() -> AsyncIterator[dict[str, str]]:
        last_state = first.state
        yield frame(first)
        if first.status in TERMINAL:
            return
        with live.listen(transfer_id) as notices:
            # Pub/Sub may drop a notice (it is at most once), so a read of the transfer after
            # a quiet spell fills any gap; the stream ends once the transfer is terminal.
            view: TransferPublic | None = live.finished(transfer_id)
            while True:
                if view is None:
                    try:
                        async with asyncio.timeout(SSE_QUIET_READ_S):
                            view = await notices.get()
                    except TimeoutError:
                        view = await services.transfer(transfer_id)
                if view is not None and view.state != last_state:
                    last_state = view.state
                    yield frame(view)
                    if view.status in TERMINAL:
                        return
                view = None

    async def leased() -> AsyncIterator[dict[str, str]]:
        try:
            async for event in events():
                yield event
        finally:
            if lease is not None:
                await lease.release()

    return EventSourceResponse(leased(), ping=15)
