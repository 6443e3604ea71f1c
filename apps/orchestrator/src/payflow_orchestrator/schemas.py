"""The orchestrator's internal API of payment links (called by the gateway only, with the service
token; the gateway checks ownership of wallets and answers the public shape)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from payflow_contracts.paging import InvalidCursor
from payflow_orchestrator.api import Transfers, internal_view
from payflow_orchestrator.domain.payment_links import LinkRefused, link_view
from payflow_orchestrator.domain.transfer import IdempotencyKeyReused
from payflow_orchestrator.payment_links import LinkContention, LinkNotFound, Links
from payflow_orchestrator.repository import TransferQuery
from payflow_service import InternalCaller, ProblemError

router = APIRouter(prefix="/internal/payment-links")

Amount = Annotated[int, Field(gt=0, strict=True)]


class LinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str = Field(min_length=1)
    idempotency_key: str = Field(min_length=1, max_length=255)
    wallet_id: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    amount: Amount | None = None
    min_amount: Amount | None = None
    max_amount: Amount | None = None
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[str, str] = Field(default_factory=dict)
    single_use: bool = False
    expires_at: AwareDatetime | None = None
    merchant_name: str = Field(min_length=1, max_length=100)


class LinkDeactivate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str = Field(min_length=1)


class LinkPayment(BaseModel):
    model_config = ConfigDict(extra="forbid")
    initiator_id: str = Field(min_length=1)
    idempotency_key: str = Field(min_length=1, max_length=255)
    source_wallet_id: str = Field(min_length=1)
    amount: Amount | None = None


def _not_found() -> ProblemError:
    return ProblemError(404, "payment_link_not_found", "No such payment link.")


def _refused(refused: LinkRefused) -> ProblemError:
    # LinkRefused carries its own status and code (see domain/payment_links.py).
    return ProblemError(refused.status, refused.code, refused.detail)


def _key_reused() -> ProblemError:
    return ProblemError(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key already made a different request.",
    )


@router.post("", status_code=201)
async def create_link(
    body: LinkCreate, response: Response, links: Links, _: InternalCaller
) -> dict[str, Any]:
    fields = body.model_dump(exclude={"owner_id", "idempotency_key"})
    try:
        link, created = await links.create(
            owner_id=body.owner_id, idempotency_key=body.idempotency_key, fields=fields
        )
    except LinkRefused as refused:
        raise _refused(refused) from None
    except IdempotencyKeyReused:
        raise _key_reused() from None
    if not created:
        response.status_code = 200
    return link_view(link, links.now())


@router.get("")
async def list_links(
    owner_id: str,
    links: Links,
    _: InternalCaller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        items, next_cursor = await links.page(owner_id, limit, cursor)
    except InvalidCursor:
        raise ProblemError(400, "invalid_cursor", "The cursor is not valid.") from None
    now = links.now()
    return {"data": [link_view(link, now) for link in items], "next_cursor": next_cursor}


@router.get("/{link_id}")
async def get_link(link_id: str, links: Links, _: InternalCaller) -> dict[str, Any]:
    try:
        link = await links.get(link_id)
    except LinkNotFound:
        raise _not_found() from None
    return link_view(link, links.now())


@router.post("/{link_id}/deactivate")
async def deactivate_link(
    link_id: str, body: LinkDeactivate, links: Links, _: InternalCaller
) -> dict[str, Any]:
    try:
        link = await links.deactivate(link_id, body.owner_id)
    except LinkNotFound:
        raise _not_found() from None
    return link_view(link, links.now())


@router.post("/{link_id}/payments", status_code=201)
async def pay_link(
    link_id: str, body: LinkPayment, response: Response, links: Links, _: InternalCaller
) -> dict[str, Any]:
    try:
        transfer, created = await links.pay(
            link_id,
            payer_id=body.initiator_id,
            idempotency_key=body.idempotency_key,
            source_wallet_id=body.source_wallet_id,
            amount=body.amount,
        )
    except LinkNotFound:
        raise _not_found() from None
    except LinkRefused as refused:
        raise _refused(refused) from None
    except IdempotencyKeyReused:
        raise _key_reused() from None
    except LinkContention:
        raise ProblemError(
            409, "conflict", "The payment link kept changing under concurrent payments; retry."
        ) from None
    if not created:
        response.status_code = 200
    return internal_view(transfer)


@router.get("/{link_id}/payments")
async def link_payments(
    link_id: str,
    transfers: Transfers,
    _: InternalCaller,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    try:
        items, next_cursor = await transfers.page(
            TransferQuery(payment_link_id=link_id), limit, cursor
        )
    except InvalidCursor:
        raise ProblemError(400, "invalid_cursor", "The cursor is not valid.") from None
    return {"data": [internal_view(t) for t in items], "next_cursor": next_cursor}
