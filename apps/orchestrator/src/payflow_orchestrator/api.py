"""The orchestrator's internal HTTP API (called by the gateway only, with the service token; the
gateway checks ownership of wallets and answers the public shapes).

Domain exceptions propagate to the problem catalogue (`problems.py`); only refusals whose status,
code or detail are decided at run time are answered here.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response
from pydantic import AwareDatetime

from payflow_contracts import new_id
from payflow_contracts.clock import utc_now
from payflow_contracts.transfers import TransferView
from payflow_orchestrator.coordinator import TransferRequest
from payflow_orchestrator.deps import Coordinator, FaultRules, Links, Refunds, Settings, Transfers
from payflow_orchestrator.domain.errors import (
    FaultRuleNotFound,
    LinkRefused,
    RefundRefused,
    TransferNotFound,
)
from payflow_orchestrator.domain.saga_machine import PublicStatus, SagaKind, states_for_status
from payflow_orchestrator.domain.transfer import internal_view
from payflow_orchestrator.ports import TransferQuery
from payflow_orchestrator.schemas import (
    FaultRuleCreate,
    FaultRuleView,
    LinkCreate,
    LinkDeactivate,
    LinkPayment,
    Page,
    PaymentLinkView,
    RefundStart,
    StuckSagas,
    TransferStart,
)
from payflow_service import InternalCaller, ProblemError
from payflow_service.paging import Cursor, Limit
from payflow_service.quotas import QuotaExceeded, quota_problem

router = APIRouter(prefix="/internal")
links_router = APIRouter(prefix="/internal/payment-links")


# ---------------------------------------------------------------- transfers


@router.post("/transfers", status_code=201)
async def start_transfer(
    body: TransferStart,
    response: Response,
    coordinator: Coordinator,
    _: InternalCaller,
) -> TransferView:
    if body.kind != SagaKind.TOP_UP and body.source_wallet_id is None:
        raise ProblemError(422, "validation_error", "source_wallet_id is required")
    if body.kind == SagaKind.REFUND:
        # A refund is built from its original and reserved on it: POST .../{id}/refunds.
        raise ProblemError(
            422, "validation_error", "refunds are started with /internal/transfers/{id}/refunds"
        )
    transfer, created = await coordinator.start(_request_of(body))
    if not created:
        response.status_code = 200
    return internal_view(transfer)


def _request_of(body: TransferStart) -> TransferRequest:
    return TransferRequest(
        kind=body.kind,
        initiator_id=body.initiator_id,
        idempotency_key=body.idempotency_key,
        source_wallet_id=body.source_wallet_id if body.kind != SagaKind.TOP_UP else None,
        destination_wallet_id=body.destination_wallet_id,
        amount=body.amount,
        currency=body.currency,
        description=body.description,
        metadata=body.metadata,
        owner_ids=body.owner_ids,
    )


@router.post("/transfers/{transfer_id}/refunds", status_code=201)
async def start_refund(
    transfer_id: str,
    body: RefundStart,
    response: Response,
    refunds: Refunds,
    _: InternalCaller,
) -> TransferView:
    """Refund `amount` (all that is left when absent) of a completed transfer. 201 with a new
    refund; 200 with the refund this (initiator, key) already made."""
    try:
        refund, created = await refunds.refund(
            transfer_id, body.initiator_id, body.idempotency_key, body.amount
        )
    except RefundRefused as refused:
        if refused.code == "refund_exceeds_remaining":
            raise ProblemError(422, "refund_exceeds_remaining", refused.detail) from None
        raise ProblemError(422, "transfer_not_refundable", refused.detail) from None
    if not created:
        response.status_code = 200
    return internal_view(refund)


@router.get("/transfers/{transfer_id}")
async def get_transfer(transfer_id: str, transfers: Transfers, _: InternalCaller) -> TransferView:
    transfer = await transfers.get(transfer_id)
    if transfer is None:
        raise TransferNotFound(transfer_id)
    return internal_view(transfer)


@router.get("/transfers")
async def list_transfers(
    transfers: Transfers,
    _: InternalCaller,
    cursor: Cursor,
    owner_id: str | None = None,
    status: PublicStatus | None = None,
    wallet_id: str | None = None,
    created_gte: AwareDatetime | None = None,
    created_lte: AwareDatetime | None = None,
    payment_link_id: str | None = None,
    limit: Limit = 20,
) -> Page[TransferView]:
    query = TransferQuery(
        owner_id=owner_id,
        states=states_for_status(status) if status else None,
        wallet_id=wallet_id,
        created_gte=created_gte,
        created_lte=created_lte,
        payment_link_id=payment_link_id,
    )
    items, next_cursor = await transfers.page(query, limit, cursor)
    return Page(data=[internal_view(t) for t in items], next_cursor=next_cursor)


@router.get("/sagas/stuck")
async def stuck_sagas(transfers: Transfers, settings: Settings, _: InternalCaller) -> StuckSagas:
    before = utc_now() - timedelta(seconds=settings.stuck_grace_s)
    return StuckSagas(
        stuck_transfers=await transfers.count_past_deadline(before),
        in_flight=await transfers.count_active(),
    )


# ---------------------------------------------------------------- sandbox faults


@router.post("/faults", status_code=201)
async def add_fault(
    body: FaultRuleCreate, rules: FaultRules, settings: Settings, _: InternalCaller
) -> FaultRuleView:
    rule = body.rule(new_id("flt"))
    try:
        await rules.add(rule, cap=settings.max_fault_rules_per_user)
    except QuotaExceeded as exceeded:
        raise quota_problem(exceeded, "fault rules", "PAYFLOW_MAX_FAULT_RULES_PER_USER") from None
    return FaultRuleView.of(rule)


@router.get("/faults")
async def list_faults(owner_id: str, rules: FaultRules, _: InternalCaller) -> Page[FaultRuleView]:
    found = await rules.for_owner(owner_id)
    return Page(data=[FaultRuleView.of(rule) for rule in found], next_cursor=None)


@router.delete("/faults/{rule_id}", status_code=204)
async def remove_fault(
    rule_id: str, owner_id: str, rules: FaultRules, _: InternalCaller
) -> Response:
    if not await rules.remove(owner_id, rule_id):
        raise FaultRuleNotFound(rule_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- payment links


def _refused(refused: LinkRefused) -> ProblemError:
    # LinkRefused carries its own status and code (see domain/payment_links.py).
    return ProblemError(refused.status, refused.code, refused.detail)


@links_router.post("", status_code=201)
async def create_link(
    body: LinkCreate, response: Response, links: Links, _: InternalCaller
) -> PaymentLinkView:
    fields = body.model_dump(exclude={"owner_id", "idempotency_key"})
    try:
        link, created = await links.create(
            owner_id=body.owner_id, idempotency_key=body.idempotency_key, fields=fields
        )
    except LinkRefused as refused:
        raise _refused(refused) from None
    if not created:
        response.status_code = 200
    return PaymentLinkView.of(link, links.now())


@links_router.get("")
async def list_links(
    owner_id: str, links: Links, _: InternalCaller, cursor: Cursor, limit: Limit = 20
) -> Page[PaymentLinkView]:
    items, next_cursor = await links.page(owner_id, limit, cursor)
    now = links.now()
    return Page(data=[PaymentLinkView.of(link, now) for link in items], next_cursor=next_cursor)


@links_router.get("/{link_id}")
async def get_link(link_id: str, links: Links, _: InternalCaller) -> PaymentLinkView:
    return PaymentLinkView.of(await links.get(link_id), links.now())


@links_router.post("/{link_id}/deactivate")
async def deactivate_link(
    link_id: str, body: LinkDeactivate, links: Links, _: InternalCaller
) -> PaymentLinkView:
    link = await links.deactivate(link_id, body.owner_id)
    return PaymentLinkView.of(link, links.now())


@links_router.post("/{link_id}/payments", status_code=201)
async def pay_link(
    link_id: str, body: LinkPayment, response: Response, links: Links, _: InternalCaller
) -> TransferView:
    try:
        transfer, created = await links.pay(
            link_id,
            payer_id=body.initiator_id,
            idempotency_key=body.idempotency_key,
            source_wallet_id=body.source_wallet_id,
            amount=body.amount,
        )
    except LinkRefused as refused:
        raise _refused(refused) from None
    if not created:
        response.status_code = 200
    return internal_view(transfer)


@links_router.get("/{link_id}/payments")
async def link_payments(
    link_id: str, transfers: Transfers, _: InternalCaller, cursor: Cursor, limit: Limit = 20
) -> Page[TransferView]:
    items, next_cursor = await transfers.page(TransferQuery(payment_link_id=link_id), limit, cursor)
    return Page(data=[internal_view(t) for t in items], next_cursor=next_cursor)
