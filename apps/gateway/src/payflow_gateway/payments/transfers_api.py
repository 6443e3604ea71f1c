"""Public routes: transfers, top-ups, and the live transfer stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime
from sse_starlette.sse import EventSourceResponse

from payflow_gateway.auth.dependencies import CurrentUser
from payflow_gateway.payments.deps import Idempotency, Live, Services, Settings, Wallets
from payflow_gateway.payments.idempotency_keys import MAX_KEY_LENGTH
from payflow_gateway.payments.idempotent import run_idempotently
from payflow_gateway.payments.live_transfers import LiveTransfers
from payflow_gateway.payments.schemas import (
    RefundCreate,
    TopUpCreate,
    TransferCreate,
    problems,
)
from payflow_gateway.throttling.composition import Streams
from payflow_service import ProblemError
from payflow_settings import ServiceSettings

router = APIRouter(prefix="/v1", tags=["transfers"])

TERMINAL = frozenset({"completed", "failed"})
MAX_WAIT_S = 10.0
SSE_QUIET_READ_S = 2.0


def public_transfer(internal: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in internal.items() if k not in ("owner_ids", "initiator_id")}


def _wallet_not_found() -> ProblemError:
    return ProblemError(404, "wallet_not_found", "No such wallet.")


def _check_amount(amount: int, settings: ServiceSettings) -> None:
    if amount > settings.max_transfer_amount:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[
                {
                    "loc": "body.amount",
                    "msg": f"amount must be at most {settings.max_transfer_amount} minor units",
                }
            ],
        )


def _check_currency(currency: str, settings: ServiceSettings) -> None:
    if currency not in settings.currency_list:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[
                {
                    "loc": "body.currency",
                    "msg": f"currency must be one of {', '.join(settings.currency_list)}",
                }
            ],
        )


def _wait_seconds(request: Request) -> float:
    prefer = request.headers.get("prefer", "")
    for part in prefer.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "wait":
            try:
                return max(0.0, min(float(value.strip()), MAX_WAIT_S))
            except ValueError:
                return 0.0
    return 0.0


async def _answer(
    services: Services, live: LiveTransfers, transfer: dict[str, Any], wait: float
) -> tuple[int, dict[str, Any]]:
    """202 with the saga as it stands; with `Prefer: wait=N`, 200 once terminal within N s."""
    if not wait:
        return 202, public_transfer(transfer)
    transfer = await _await_terminal(services, live, transfer, wait)
    return (200 if transfer["status"] in TERMINAL else 202), public_transfer(transfer)


async def _await_terminal(
    services: Services, live: LiveTransfers, transfer: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """Woken by the orchestrator's live notice; one read at the end covers a lost notice."""
    if transfer["status"] in TERMINAL:
        return transfer
    heard = await live.terminal(transfer["id"], seconds)
    if heard is not None:
        return heard
    latest = await services.transfer(transfer["id"])
    return latest if latest is not None else transfer


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
    "description": "The transfer, terminal, when `Prefer: wait=N` was sent and it finished in time"
}


@router.post(
    "/transfers",
    status_code=202,
    responses={200: TERMINAL_ANSWER, **problems(400, 404, 409, 422)},
    openapi_extra=MONEY_ROUTE,
    summary="Move money between wallets (saga); requires an Idempotency-Key header",
)
async def create_transfer(
    body: TransferCreate,
    request: Request,
    user: CurrentUser,
    services: Services,
    wallets: Wallets,
    idempotency: Idempotency,
    settings: Settings,
    live: Live,
) -> JSONResponse:
    _check_amount(body.amount, settings)
    _check_currency(body.currency, settings)
    if body.source_wallet_id == body.destination_wallet_id:
        raise ProblemError(422, "same_wallet", "The source and destination wallets are the same.")
    wait = _wait_seconds(request)

    async def work() -> tuple[int, dict[str, Any]]:
        source, destination = await asyncio.gather(
            wallets.directory.facts(body.source_wallet_id),
            wallets.directory.facts(body.destination_wallet_id),
        )
        if source is None or not source.is_owned_by(user.id):
            raise _wallet_not_found()
        if destination is None:
            raise _wallet_not_found()
        if source.currency != body.currency or destination.currency != body.currency:
            raise ProblemError(
                422,
                "currency_mismatch",
                "Both wallets must hold the transfer's currency.",
            )
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
        return await _answer(services, live, transfer, wait)

    return await run_idempotently(request, idempotency, user.id, body.model_dump(mode="json"), work)


@router.post(
    "/wallets/{wallet_id}/top-ups",
    status_code=202,
    responses={200: TERMINAL_ANSWER, **problems(400, 404, 409, 422)},
    openapi_extra=MONEY_ROUTE,
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
    idempotency: Idempotency,
    settings: Settings,
    live: Live,
) -> JSONResponse:
    if settings.is_production:
        raise ProblemError(404, "not_found", "Not found.")
    _check_amount(body.amount, settings)
    wait = _wait_seconds(request)

    async def work() -> tuple[int, dict[str, Any]]:
        wallet = await wallets.directory.facts(wallet_id)
        if wallet is None or not wallet.is_owned_by(user.id):
            raise _wallet_not_found()
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
        return await _answer(services, live, transfer, wait)

    return await run_idempotently(
        request, idempotency, user.id, {"wallet_id": wallet_id, **body.model_dump()}, work
    )


@router.post(
    "/transfers/{transfer_id}/refund",
    status_code=202,
    responses={200: TERMINAL_ANSWER, **problems(400, 404, 409, 422)},
    openapi_extra=MONEY_ROUTE,
    summary="Return part or all of a completed transfer to its sender (by its recipient); a saga",
)
async def refund_transfer(
    transfer_id: str,
    request: Request,
    user: CurrentUser,
    services: Services,
    wallets: Wallets,
    idempotency: Idempotency,
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
        _check_amount(amount, settings)
    wait = _wait_seconds(request)

    async def work() -> tuple[int, dict[str, Any]]:
        original = await _owned_transfer(services, transfer_id, user.id)
        recipient_wallet = await wallets.directory.facts(original["destination_wallet_id"])
        if recipient_wallet is None or not recipient_wallet.is_owned_by(user.id):
            raise ProblemError(
                422, "transfer_not_refundable", "Only the recipient of a transfer can refund it."
            )
        if original["kind"] != "transfer" or original["status"] != "completed":
            raise ProblemError(
                422, "transfer_not_refundable", "Only a completed transfer can be refunded."
            )
        refund = await services.start_refund(
            transfer_id,
            {
                "initiator_id": user.id,
                "idempotency_key": request.headers["idempotency-key"],
                "amount": amount,
            },
        )
        return await _answer(services, live, refund, wait)

    return await run_idempotently(
        request, idempotency, user.id, {"refund": transfer_id, "amount": amount}, work
    )


async def _owned_transfer(services: Services, transfer_id: str, user_id: str) -> dict[str, Any]:
    transfer = await services.transfer(transfer_id)
    if transfer is None or user_id not in transfer.get("owner_ids", []):
        raise ProblemError(404, "transfer_not_found", "No such transfer.")
    return transfer


@router.get(
    "/transfers/{transfer_id}",
    responses=problems(404),
    summary="A transfer; with `Prefer: wait=N` (N <= 10), answered once it is terminal or N s passed",
)
async def get_transfer(
    transfer_id: str, request: Request, user: CurrentUser, services: Services, live: Live
) -> dict[str, Any]:
    transfer = await _owned_transfer(services, transfer_id, user.id)
    wait = _wait_seconds(request)
    if wait:
        transfer = await _await_terminal(services, live, transfer, wait)
    return public_transfer(transfer)


@router.get("/transfers", responses=problems(400, 422))
async def list_transfers(
    user: CurrentUser,
    services: Services,
    status: Annotated[str | None, Query(pattern="^(pending|processing|completed|failed)$")] = None,
    wallet_id: str | None = None,
    created_gte: AwareDatetime | None = None,
    created_lte: AwareDatetime | None = None,
    payment_link_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"owner_id": user.id, "limit": limit}
    for name, value in (
        ("status", status),
        ("wallet_id", wallet_id),
        ("payment_link_id", payment_link_id),
        ("created_gte", created_gte.isoformat() if created_gte else None),
        ("created_lte", created_lte.isoformat() if created_lte else None),
        ("cursor", cursor),
    ):
        if value is not None:
            params[name] = value
    page = await services.transfers(params)
    return {"data": [public_transfer(t) for t in page["data"]], "next_cursor": page["next_cursor"]}


@router.get(
    "/transfers/{transfer_id}/stream",
    responses={200: {"content": {"text/event-stream": {}}}, **problems(404)},
    summary="Server-sent events of the transfer's state changes until it is terminal",
)
async def stream_transfer(
    transfer_id: str, user: CurrentUser, services: Services, live: Live, streams: Streams
) -> EventSourceResponse:
    first = await _owned_transfer(services, transfer_id, user.id)
    lease = await streams.take(user.id)  # 429 too_many_streams past the cap

    async def events() -> AsyncIterator[dict[str, str]]:
        last_state = first["state"]
        yield {"event": "transfer", "data": json.dumps(public_transfer(first))}
        if first["status"] in TERMINAL:
            return
        with live.listen(transfer_id) as notices:
            # Pub/Sub may drop a notice (it is at most once), so a read of the transfer after
            # a quiet spell fills any gap; the stream ends once the transfer is terminal.
            view: dict[str, Any] | None = live.finished(transfer_id)
            while True:
                if view is None:
                    try:
                        async with asyncio.timeout(SSE_QUIET_READ_S):
                            view = await notices.get()
                    except TimeoutError:
                        latest = await services.transfer(transfer_id)
                        view = public_transfer(latest) if latest else None
                if view is not None and view["state"] != last_state:
                    last_state = view["state"]
                    yield {"event": "transfer", "data": json.dumps(public_transfer(view))}
                    if view["status"] in TERMINAL:
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
