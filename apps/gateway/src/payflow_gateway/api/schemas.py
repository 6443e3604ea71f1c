"""Request and response bodies of the public API. Requests are strict (money is never a float or
a string); no response ever holds a password hash or a secret other than the one it creates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
)

from payflow_contracts.text import UnicodeText, field_name
from payflow_contracts.transfers import TransferPublic
from payflow_gateway.auth.passwords import MAX_PASSWORD_BYTES
from payflow_gateway.domain.users import Role
from payflow_gateway.domain.wallets import WalletStatus

MIN_PASSWORD_LENGTH = 10

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[UnicodeText, StringConstraints(max_length=500)]

# ---------------------------------------------------------------- wallets


class WalletPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    owner_id: str
    currency: str
    balance: int = Field(description="Minor units (cents) of `currency`")
    status: WalletStatus
    created_at: datetime
    updated_at: datetime


class WalletCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case")


class WalletList(BaseModel):
    data: list[WalletPublic]
    next_cursor: str | None


class LedgerEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    transfer_id: str | None
    direction: Literal["debit", "credit"]
    amount: int = Field(description="Minor units, always positive")
    currency: str
    kind: str
    created_at: datetime


class LedgerEntryList(BaseModel):
    data: list[LedgerEntryPublic]
    next_cursor: str | None


# ---------------------------------------------------------------- users, sessions, API keys


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_BYTES)
    name: Name

    @field_validator("password")
    @classmethod
    def _fits_bcrypt(cls, value: str) -> str:
        if len(value.encode()) > MAX_PASSWORD_BYTES:
            raise ValueError(f"password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
        return value


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    name: str
    role: Role
    created_at: datetime


class Registered(BaseModel):
    user: UserPublic
    wallet: WalletPublic


class LoginRequest(BaseModel):
    # Not EmailStr: a malformed email is simply one that has no account.
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class TokenPairPublic(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type, no secret
    expires_in: int = Field(description="Seconds until the access token expires")


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name


class ApiKeyPublic(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it")
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The secret key; shown only in this answer")


class ApiKeyList(BaseModel):
    data: list[ApiKeyPublic]
    next_cursor: str | None


class UserList(BaseModel):
    data: list[UserPublic]
    next_cursor: str | None


# ---------------------------------------------------------------- transfers


def plain_keys(metadata: dict[str, str]) -> dict[str, str]:
    """Refuses keys that cannot be document field names downstream: with `$` (an operator), `.`
    (a walk into a sub-document), a NUL, or an unpaired surrogate (payflow_contracts.text)."""
    refused: list[str] = []
    for key in metadata:
        try:
            field_name(key)
        except ValueError:
            refused.append(repr(key))
    if refused:
        raise ValueError(
            "metadata keys must be text without '$', '.' or NUL characters: "
            + ", ".join(sorted(refused))
        )
    return metadata


def metadata_rules(metadata: dict[str, str]) -> dict[str, str]:
    """At most 20 keys, each a plain field name (`plain_keys`)."""
    if len(metadata) > 20:
        raise ValueError("metadata holds at most 20 keys")
    return plain_keys(metadata)


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    source_wallet_id: str = Field(min_length=1, max_length=64)
    destination_wallet_id: str = Field(min_length=1, max_length=64)
    amount: StrictInt = Field(gt=0, description="Minor units (cents); a JSON integer")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case")
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _at_most_20_plain_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return metadata_rules(value)


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount: StrictInt | None = Field(
        default=None,
        gt=0,
        description="Minor units to return; absent: all that is left to refund",
    )


class TopUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount: StrictInt = Field(gt=0, description="Minor units (cents); a JSON integer")


class FaultCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Literal["debit", "ledger", "credit"]
    mode: Literal["reject", "error", "timeout"]
    rate: float = Field(default=1.0, ge=0, le=1)
    match_metadata: dict[str, UnicodeText] = Field(default_factory=dict)

    @field_validator("match_metadata")
    @classmethod
    def _plain_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return plain_keys(value)


class TransferList(BaseModel):
    data: list[TransferPublic]
    next_cursor: str | None


class FaultRule(BaseModel):
    """A sandbox fault rule: makes a saga step of the owner's transfers fail on purpose."""

    id: str
    step: str = Field(description="`debit`, `ledger` or `credit`")
    mode: str = Field(description="`reject`, `error` or `timeout`")
    rate: float
    match_metadata: dict[str, str]


class FaultRuleList(BaseModel):
    data: list[FaultRule]
    next_cursor: str | None


class BalanceMismatch(BaseModel):
    wallet_id: str
    wallet_balance: int
    ledger_balance: int


class CurrencyTotalsPublic(BaseModel):
    """Money conservation in one currency: wallets + fees = funded."""

    currency: str
    wallets: int
    fees: int
    funded: int
    conserved: bool


class Reconciliation(BaseModel):
    ok: bool
    wallets_checked: int
    mismatches: list[BalanceMismatch]
    ledger_balanced: bool
    money_conserved: bool
    currencies: list[CurrencyTotalsPublic]
    stuck_transfers: int


# ---------------------------------------------------------------- payment links


class PaymentLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    wallet_id: str = Field(
        min_length=1, max_length=64, description="The caller's wallet the payments go to"
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217; the wallet's currency")
    amount: StrictInt | None = Field(
        default=None, gt=0, description="A fixed amount in minor units; absent: an open amount"
    )
    min_amount: StrictInt | None = Field(
        default=None, gt=0, description="Open amount: the least a payer may pay (default 1)"
    )
    max_amount: StrictInt | None = Field(
        default=None, gt=0, description="Open amount: the most (default: the transfer maximum)"
    )
    description: str | None = Field(default=None, max_length=500)
    expires_at: AwareDatetime | None = Field(
        default=None,
        strict=False,  # JSON has no datetime: an RFC 3339 string, parsed
        description="RFC 3339 with a timezone; payments are refused from then on",
    )
    single_use: bool = Field(default=False, description="Exactly one completed payment")
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _at_most_20_plain_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return metadata_rules(value)


class PaymentLinkPay(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    source_wallet_id: str = Field(min_length=1, max_length=64)
    amount: StrictInt | None = Field(
        default=None, gt=0, description="Open-amount links only: minor units to pay"
    )


class PaymentLinkQr(BaseModel):
    png_url: str
    svg_url: str


class PaymentLinkPublic(BaseModel):
    """A payment link: what it asks for, where a payer pays it (`url`, its QR codes), and what
    it was paid so far."""

    id: str
    status: str = Field(description="`active`, `inactive`, `expired` or `paid`")
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
    url: str
    qr: PaymentLinkQr


class PaymentLinkList(BaseModel):
    data: list[PaymentLinkPublic]
    next_cursor: str | None


# ---------------------------------------------------------------- webhooks

EventType = Literal[
    "transfer.created",
    "transfer.completed",
    "transfer.failed",
    "transfer.refunded",
    "payment_link.paid",
    "*",
]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2048, description="http(s) URL that receives the deliveries")
    event_types: list[EventType] = Field(min_length=1)
    description: str | None = Field(default=None, max_length=500)


class WebhookEndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, max_length=2048)
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=500)
    status: Literal["enabled", "disabled"] | None = None


class WebhookEndpoint(BaseModel):
    id: str
    url: str
    event_types: list[str]
    status: str = Field(description="`enabled` or `disabled`")
    description: str | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="`whsec_...`: the signing secret, shown only here")


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpoint]
    next_cursor: str | None


class SigningSecret(BaseModel):
    secret: str


class DeliveryAttempt(BaseModel):
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None


class Delivery(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: str = Field(description="`pending`, `succeeded` or `failed`")
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime


class DeliveryList(BaseModel):
    data: list[Delivery]
    next_cursor: str | None


class Event(BaseModel):
    """A domain event; also the exact body of every webhook delivery of it."""

    id: str
    type: str
    created_at: datetime
    data: TransferPublic


class EventList(BaseModel):
    data: list[Event]
    next_cursor: str | None
