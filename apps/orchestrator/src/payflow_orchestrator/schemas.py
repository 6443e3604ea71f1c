"""The bodies of the orchestrator's internal API: what the gateway sends and what it reads back.

Transfers are answered as `payflow_contracts.transfers.TransferView` (the gateway's own model of
them); lists as a `Page` of items and the cursor of the next page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from payflow_contracts.text import FieldName, UnicodeText
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.domain.payment_links import LinkStatus, PaymentLink
from payflow_orchestrator.domain.saga_machine import SagaKind

T = TypeVar("T")

Amount = Annotated[int, Field(gt=0, strict=True)]


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first; `next_cursor` is None on the last one."""

    data: list[T]
    next_cursor: str | None


# ---------------------------------------------------------------- transfers


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


class StuckSagas(BaseModel):
    stuck_transfers: int
    """Sagas whose step deadline passed longer ago than `stuck_grace_s`."""
    in_flight: int


# ---------------------------------------------------------------- sandbox faults


class FaultRuleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner_id: str
    step: Literal["debit", "ledger", "credit"]
    mode: Literal["reject", "error", "timeout"]
    rate: float = Field(default=1.0, ge=0, le=1)
    match_metadata: dict[FieldName, UnicodeText] = Field(default_factory=dict)

    def rule(self, rule_id: str) -> FaultRule:
        return FaultRule(
            id=rule_id,
            owner_id=self.owner_id,
            step=self.step,
            mode=self.mode,
            rate=self.rate,
            match_metadata=dict(self.match_metadata),
        )


class FaultRuleView(BaseModel):
    """A sandbox fault rule as the orchestrator's API shows it."""

    id: str
    owner_id: str
    step: Literal["debit", "ledger", "credit"]
    mode: Literal["reject", "error", "timeout"]
    rate: float = Field(default=1.0, ge=0, le=1)
    match_metadata: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def of(cls, rule: FaultRule) -> FaultRuleView:
        return cls(
            id=rule.id,
            owner_id=rule.owner_id,
            step=rule.step,
            mode=rule.mode,
            rate=rule.rate,
            match_metadata=dict(rule.match_metadata),
        )


# ---------------------------------------------------------------- payment links


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


class PaymentLinkView(BaseModel):
    """The link as the orchestrator's API shows it (the gateway adds its URLs)."""

    id: str
    owner_id: str
    status: LinkStatus
    wallet_id: str
    currency: str
    amount: int | None
    min_amount: int | None
    max_amount: int | None
    description: str | None
    metadata: dict[str, str]
    single_use: bool
    merchant_name: str
    expires_at: datetime | None
    created_at: datetime
    deactivated_at: datetime | None
    paid_count: int
    paid_amount: int
    payments_in_flight: int

    @classmethod
    def of(cls, link: PaymentLink, now: datetime) -> PaymentLinkView:
        return cls(
            id=link.id,
            owner_id=link.owner_id,
            status=link.status(now),
            wallet_id=link.wallet_id,
            currency=link.currency,
            amount=link.amount,
            min_amount=link.min_amount,
            max_amount=link.max_amount,
            description=link.description,
            metadata=dict(link.metadata),
            single_use=link.single_use,
            merchant_name=link.merchant_name,
            expires_at=link.expires_at,
            created_at=link.created_at,
            deactivated_at=link.deactivated_at,
            paid_count=link.paid_count,
            paid_amount=link.paid_amount,
            payments_in_flight=link.reservations_open,
        )
