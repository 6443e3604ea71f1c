"""Typed resources of the PayFlow public API.

Money is always an integer amount of minor units (cents) with its ISO 4217 currency. Fields the
server adds later are kept (`extra="allow"`) rather than refused, so an older client keeps
working; `tests/test_model_drift.py` fails when these models and the gateway disagree.
Enumerations (statuses, states, failure codes) are plain strings for the same reason; the known
values are listed in the constants below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

T = TypeVar("T")

TERMINAL_STATUSES = frozenset({"completed", "failed"})
"""A transfer in one of these public statuses never changes again."""

TRANSFER_STATUSES = ("pending", "processing", "completed", "failed")
EVENT_TYPES = (
    "transfer.created",
    "transfer.completed",
    "transfer.failed",
    "transfer.refunded",
    "payment_link.paid",
)


class Resource(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Problem(Resource):
    """RFC 9457 problem details; `code` is the stable, machine-readable value."""

    type: str = "about:blank"
    title: str = ""
    status: int
    detail: str = ""
    code: str
    errors: list[dict[str, str]] | None = None
    trace_id: str | None = None
    request_id: str | None = None


class User(Resource):
    id: str
    email: str
    name: str
    role: str = Field(description="`user` or `admin`")
    created_at: datetime


class Wallet(Resource):
    id: str
    owner_id: str
    currency: str
    balance: int = Field(description="Minor units (cents) of `currency`")
    status: str = Field(description="`active`, `frozen` or `closed`")
    created_at: datetime
    updated_at: datetime


class Registered(Resource):
    user: User
    wallet: Wallet


class TokenPair(Resource):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type, no secret
    expires_in: int


class ApiKey(Resource):
    id: str
    name: str
    prefix: str
    created_at: datetime


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret key; shown only once")


class LedgerEntry(Resource):
    id: str
    transfer_id: str | None
    direction: str = Field(description="`debit` (money out) or `credit` (money in)")
    amount: int = Field(description="Minor units, always positive")
    currency: str
    kind: str = Field(description="`transfer`, `top_up` or `reversal`")
    created_at: datetime


class HistoryEntry(Resource):
    """One step of the transfer's saga: the state it entered, when, and why."""

    state: str
    at: datetime
    reason: str


class Transfer(Resource):
    """A transfer, top-up or refund: a saga whose `history` lists every state it went through."""

    id: str
    kind: str = Field(description="`transfer`, `top_up` or `refund`")
    status: str = Field(description="`pending`, `processing`, `completed` or `failed`")
    state: str = Field(description="The saga state, e.g. `crediting_destination`")
    amount: int = Field(description="Minor units (cents) of `currency`")
    currency: str
    source_wallet_id: str | None
    destination_wallet_id: str
    description: str | None
    metadata: dict[str, str]
    failure_code: str | None
    failure_message: str | None
    compensated: bool
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    history: list[HistoryEntry]
    trace_id: str | None
    refund_of: str | None
    # Defaults for the fields of merchant payments (phase 9): events stored before them, and
    # replayed later, carry transfers without them.
    payment_link_id: str | None = Field(
        default=None, description="For a payment of a payment link: the link"
    )
    fee: int = Field(default=0, description="The platform's fee out of `amount` (payment links)")
    net_amount: int = Field(description="What the destination received: `amount - fee`")
    refunded_amount: int = Field(
        default=0, description="The sum of this transfer's completed refunds"
    )
    refunds: list[str] = Field(
        default_factory=list, description="Every refund started for this transfer, oldest first"
    )

    @model_validator(mode="before")
    @classmethod
    def _net_amount_of_older_transfers(cls, data: Any) -> Any:
        if isinstance(data, dict) and "net_amount" not in data and "amount" in data:
            return {**data, "net_amount": data["amount"] - data.get("fee", 0)}
        return data

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class WebhookEndpoint(Resource):
    id: str
    url: str
    event_types: list[str]
    status: str = Field(description="`enabled` or `disabled`")
    description: str | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpoint):
    secret: str = Field(description="`whsec_...`: the signing secret, shown only once")


class SigningSecret(Resource):
    secret: str


class DeliveryAttempt(Resource):
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None


class Delivery(Resource):
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


class Event(Resource):
    """A domain event; also the exact body of every webhook delivery of it."""

    id: str
    type: str
    created_at: datetime
    data: Transfer


class FaultRule(Resource):
    """A sandbox fault rule: makes a saga step of the owner's transfers fail on purpose."""

    id: str
    step: str = Field(description="`debit`, `ledger` or `credit`")
    mode: str = Field(description="`reject`, `error` or `timeout`")
    rate: float
    match_metadata: dict[str, str]


class BalanceMismatch(Resource):
    wallet_id: str
    wallet_balance: int
    ledger_balance: int


class CurrencyTotals(Resource):
    """Money conservation in one currency: wallets + fees = funded."""

    currency: str
    wallets: int
    fees: int
    funded: int
    conserved: bool


class Reconciliation(Resource):
    ok: bool
    wallets_checked: int
    mismatches: list[BalanceMismatch]
    ledger_balanced: bool
    money_conserved: bool
    currencies: list[CurrencyTotals]
    stuck_transfers: int


class Page(BaseModel, Generic[T]):
    """One page of a list: `{"data": [...], "next_cursor": ...}` (None on the last page)."""

    model_config = ConfigDict(frozen=True)

    data: list[T]
    next_cursor: str | None = None


def format_money(amount: int, currency: str) -> str:
    """`1250, "USD"` -> `"12.50 USD"`; for display only (amounts stay integers everywhere)."""
    digits = _MINOR_DIGITS.get(currency.upper(), 2)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**digits)
    if digits == 0:
        return f"{sign}{whole:,} {currency}"
    return f"{sign}{whole:,}.{minor:0{digits}d} {currency}"


_MINOR_DIGITS = {"JPY": 0, "KRW": 0, "BHD": 3, "KWD": 3, "OMR": 3, "TND": 3, "JOD": 3}
