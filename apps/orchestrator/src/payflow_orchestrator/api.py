"""The orchestrator's internal HTTP API (called by the gateway only, with the service token)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from payflow_contracts import new_id
from payflow_contracts.paging import InvalidCursor
from payflow_contracts.text import FieldName, UnicodeText
from payflow_orchestrator.coordinator import TransferCoordinator, TransferRequest, states_for_status
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.saga_machine import PublicStatus, SagaKind
from payflow_orchestrator.domain.transfer import IdempotencyKeyReused, Transfer, public_view
from payflow_orchestrator.fault_rules import FaultRuleStore
from payflow_orchestrator.refunds import (
    RefundContention,
    RefundRefused,
    Refunds,
    TransferNotFound,
)
from payflow_orchestrator.repository import TransferQuery, TransferRepository
from payflow_orchestrator.settings import OrchestratorSettings
from payflow_service import InternalCaller, ProblemError
from payflow_service.quotas import QuotaExceeded, quota_problem

router = APIRouter(prefix="/internal")


def _component(request: Request, name: str) -> Any:
    return request.app.state.runtime.components[name]


async def coordinator(request: Request) -> TransferCoordinator:
    return _component(request, "coordinator")  # type: ignore[no-any-return]


async def transfers(request: Request) -> TransferRepository:
    return _component(request, "transfers")  # type: ignore[no-any-return]


async def fault_rules(request: Request) -> FaultRuleStore:
    return _component(request, "fault_rules")  # type: ignore[no-any-return]


async def settings(request: Request) -> OrchestratorSettings:
    return request.app.state.runtime.settings  # type: ignore[no-any-return]


Coordinator = Annotated[TransferCoordinator, Depends(coordinator)]
Transfers = Annotated[TransferRepository, Depends(transfers)]
FaultRules = Annotated[FaultRuleStore, Depends(fault_rules)]
Settings = Annotated[OrchestratorSettings, Depends(settings)]


class TransferStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    initiator_id: str = Field(min_length=1)
    idempotency_key: str = Field(min_length=1, max_length=255)
    kind: SagaKind = SagaKind.TRANSFER
    source_wallet_id: str | None = None
    destination_wallet_id: str
    amount: int = Field(gt=0, strict=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[FieldName, UnicodeText] = Field(default_factory=dict)
    owner_ids: list[str] = Field(min_length=1)


class RefundStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    initiator_id: str = Field(min_length=1)
    idempotency_key: str = Field(min_length=1, max_length=255)
    amount: int | None = Field(default=None, gt=0, strict=True)
    """None: all that is left to refund."""


def internal_view(transfer: Transfer) -> dict[str, Any]:
    return {
        **public_view(transfer),
        "owner_ids": transfer.owner_ids,
        "initiator_id": transfer.initiator_id,
    }


@router.post("/transfers", status_code=201)
async def start_transfer(
    body: TransferStart,
    response: Response,
    coordinator: Coordinator,
    _: InternalCaller,
) -> dict[str, Any]:
    if body.kind != SagaKind.TOP_UP and body.source_wallet_id is None:
        raise ProblemError(422, "validation_error", "source_wallet_id is required")
    if body.kind == SagaKind.REFUND:
        # A refund is built from its original and reserved on it: POST .../{id}/refunds.
        raise ProblemError(
            422, "validation_error", "refunds are started with /internal/transfers/{id}/refunds"
        )
    try:
        transfer, created = await coordinator.start(_request_of(body))
    except IdempotencyKeyReused:
        raise _key_reused() from None
    if not created:
        response.status_code = 200
    return internal_view(transfer)


def _key_reused() -> ProblemError:
    return ProblemError(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key already made a different transfer.",
    )


@router.post("/transfers/{transfer_id}/refunds", status_code=201)
async def start_refund(
    transfer_id: str,
    body: RefundStart,
    response: Response,
    refunds: Refunds,
    _: InternalCaller,
) -> dict[str, Any]:
    """Refund `amount` (all that is left when absent) of a completed transfer. 201 with a new
    refund; 200 with the refund this (initiator, key) already made."""
    try:
        refund, created = await refunds.refund(
            transfer_id, body.initiator_id, body.idempotency_key, body.amount
        )
    except TransferNotFound:
        raise ProblemError(404, "transfer_not_found", "No such transfer.") from None
    except IdempotencyKeyReused:
        raise _key_reused() from None
    except RefundRefused as refused:
        if refused.code == "refund_exceeds_remaining":
            raise ProblemError(422, "refund_exceeds_remaining", refused.detail) from None
        raise ProblemError(422, "transfer_not_refundable", refused.detail) from None
    except RefundContention:
        raise ProblemError(
            409, "conflict", "The transfer kept changing under concurrent refunds; retry."
        ) from None
    if not created:
        response.status_code = 200
    return internal_view(refund)


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


@router.get("/transfers/{transfer_id}")
async def get_transfer(transfer_id: str, transfers: Transfers, _: InternalCaller) -> dict[str, Any]:
    transfer = await transfers.get(transfer_id)
    if transfer is None:
        raise ProblemError(404, "transfer_not_found", "No such transfer.")
    return internal_view(transfer)


@router.get("/transfers")
async def list_transfers(
    transfers: Transfers,
    _: InternalCaller,
    owner_id: str | None = None,
    status: PublicStatus | None = None,
    wallet_id: str | None = None,
    created_gte: AwareDatetime | None = None,
    created_lte: AwareDatetime | None = None,
    payment_link_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: str | None = None,
) -> dict[str, Any]:
    query = TransferQuery(
        owner_id=owner_id,
        states=states_for_status(status) if status else None,
        wallet_id=wallet_id,
        created_gte=created_gte,
        created_lte=created_lte,
        payment_link_id=payment_link_id,
    )
    try:
        items, next_cursor = await transfers.page(query, limit, cursor)
    except InvalidCursor:
        raise ProblemError(400, "invalid_cursor", "The cursor is not valid.") from None
    return {"data": [internal_view(t) for t in items], "next_cursor": next_cursor}


@router.get("/sagas/stuck")
async def stuck_sagas(
    transfers: Transfers, settings: Settings, _: InternalCaller
) -> dict[str, int]:
    before = datetime.now(UTC) - timedelta(seconds=settings.stuck_grace_s)
    return {
        "stuck_transfers": await transfers.count_past_deadline(before),
        "in_flight": await transfers.count_active(),
    }


class FaultRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str
    step: Literal["debit", "ledger", "credit"]
    mode: Literal["reject", "error", "timeout"]
    rate: float = Field(default=1.0, ge=0, le=1)
    match_metadata: dict[FieldName, UnicodeText] = Field(default_factory=dict)


@router.post("/faults", status_code=201)
async def add_fault(
    body: FaultRuleCreate, rules: FaultRules, settings: Settings, _: InternalCaller
) -> dict[str, Any]:
    rule = FaultRule(id=new_id("flt"), **body.model_dump())
    try:
        await rules.add(rule, cap=settings.max_fault_rules_per_user)
    except QuotaExceeded as exceeded:
        raise quota_problem(exceeded, "fault rules", "PAYFLOW_MAX_FAULT_RULES_PER_USER") from None
    return rule.model_dump()


@router.get("/faults")
async def list_faults(owner_id: str, rules: FaultRules, _: InternalCaller) -> dict[str, Any]:
    return {"data": [r.model_dump() for r in await rules.for_owner(owner_id)], "next_cursor": None}


@router.delete("/faults/{rule_id}", status_code=204)
async def remove_fault(
    rule_id: str, owner_id: str, rules: FaultRules, _: InternalCaller
) -> Response:
    if not await rules.remove(owner_id, rule_id):
        raise ProblemError(404, "fault_rule_not_found", "No such fault rule.")
    return Response(status_code=204)
