"""What the gateway's use cases and routes need from the world: its own stores (users, API keys,
refresh tokens, idempotency records), the budgets kept in Redis, and the internal APIs of the
services behind it. Adapters: `adapters/` (MongoDB, Redis, HTTP, and in-memory twins)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import limits
from limits import RateLimitItem

from payflow_contracts.transfers import TransferView
from payflow_gateway.domain.api_keys import ApiKey
from payflow_gateway.domain.idempotency import Claim
from payflow_gateway.domain.pages import Page
from payflow_gateway.domain.rate_limits import Budget, Standing
from payflow_gateway.domain.sessions import FamilyRevocation, IssuedRefreshToken, RefreshStatus
from payflow_gateway.domain.users import Credentials, User
from payflow_gateway.domain.wallets import LedgerEntry, StatementPage, Wallet, WalletFacts

# ---------------------------------------------------------------- the gateway's own stores


class UserStore(Protocol):
    async def add(self, user: User, password_hash: str) -> None:
        """Raises `EmailTaken` when the lower-cased email is already registered."""

    async def by_id(self, user_id: str) -> User | None: ...
    async def credentials_for(self, email: str) -> Credentials | None: ...
    async def attach_default_wallet(self, user_id: str, wallet_id: str) -> bool:
        """Records the default wallet once; False if the user is gone or already has one."""

    async def withdraw_unprovisioned(self, user_id: str) -> bool:
        """Removes a user whose default wallet was never attached (a registration that failed)."""

    async def promote_to_admin(self, email: str) -> bool: ...
    async def page(self, limit: int, after: str | None) -> list[User]:
        """Users in id order, those after the id `after`."""


class ApiKeyStore(Protocol):
    async def add(self, key: ApiKey, digest: str, cap: int | None = None) -> None:
        """Raises `ApiKeyCollision` for an id or digest already stored; with `cap`,
        `QuotaExceeded` when the user holds `cap` active keys already (exactly, however many
        are issued at once). A revoked key no longer counts."""

    async def owner_of(self, digest: str) -> str | None:
        """The user an active key acts as; None for an unknown or revoked key."""

    async def page_for(self, user_id: str, limit: int, after: str | None) -> list[ApiKey]:
        """The user's active keys in id order, those after the id `after`."""

    async def revoke(self, user_id: str, key_id: str) -> bool:
        """True when this call revoked an active key of that user."""


class RefreshTokenStore(Protocol):
    async def record(self, token: IssuedRefreshToken) -> None: ...
    async def spend(self, token_id: str) -> bool:
        """`active` -> `spent`; True for exactly one caller, however many race."""

    async def revoke(self, token_id: str) -> bool:
        """`active` -> `revoked` (logout)."""

    async def status(self, token_id: str) -> RefreshStatus | None: ...
    async def revoke_family(
        self, family_id: str, reason: FamilyRevocation, now: datetime, keep_until: datetime
    ) -> FamilyRevocation:
        """Revokes the family unless already revoked; answers the revocation that holds."""

    async def family_revocation(self, family_id: str) -> FamilyRevocation | None: ...


class IdempotencyStore(Protocol):
    async def claim(
        self, record_id: str, fingerprint: str, now: datetime, lock_for: timedelta, ttl: timedelta
    ) -> Claim: ...
    async def complete(self, record_id: str, token: str, status: int, body: Any) -> None: ...
    async def release(self, record_id: str, token: str) -> None: ...


# ---------------------------------------------------------------- budgets (Redis)


@dataclass(frozen=True)
class Limit:
    """One budget and the `limits` library's item that counts it."""

    budget: Budget
    item: RateLimitItem


def limits_of(request_class: str, key_kind: str, notation: str) -> list[Limit]:
    """The budgets a setting such as "30/minute;300/hour" describes."""
    return [
        Limit(Budget(request_class, key_kind, item.amount, item.get_expiry()), item)
        for item in limits.parse_many(notation)
    ]


class Budgets(Protocol):
    async def charge(self, charges: list[tuple[Limit, str]]) -> list[Standing]:
        """Charges one request to each (limit, key); where each key stands afterwards (empty
        when nothing could be counted)."""


class LoginGuard(Protocol):
    async def admit(self, email: str, ip: str) -> None:
        """Raises 429 `rate_limited` while the login is locked or the email's budget is spent."""

    async def failed(self, email: str, ip: str) -> None: ...
    async def succeeded(self, email: str, ip: str) -> None: ...


class StreamLease(Protocol):
    async def release(self) -> None: ...


class StreamCap(Protocol):
    async def take(self, user_id: str) -> StreamLease | None:
        """A lease for one more stream; 429 `too_many_streams` past the cap; None when the cap
        cannot be applied (the stream is let through)."""


# ---------------------------------------------------------------- services behind the gateway


class WalletDirectory(Protocol):
    async def open_wallet(self, owner_id: str, currency: str) -> Wallet: ...
    async def wallet(self, wallet_id: str) -> Wallet | None: ...
    async def facts(self, wallet_id: str) -> WalletFacts | None:
        """Owner and currency, which never change: answered from memory once seen."""
        ...

    async def wallets_of(self, owner_id: str, limit: int, cursor: str | None) -> Page[Wallet]: ...
    async def freeze(self, wallet_id: str) -> Wallet: ...
    async def unfreeze(self, wallet_id: str) -> Wallet: ...


class LedgerReader(Protocol):
    async def entries_of(self, wallet_id: str, limit: int, cursor: str | None) -> Page[LedgerEntry]:
        """The wallet account's entries, newest first; empty for an account without postings."""

    async def statement_page(
        self,
        wallet_id: str,
        start: datetime | None,
        end: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> StatementPage:
        """The account's entries in [start, end), oldest first, one page; the first page (no
        cursor) carries the opening balance."""


class PaymentServices(Protocol):
    """The orchestrator's transfers and sandbox faults, and the reconciliation views of the
    wallet and ledger services."""

    async def all_wallets(self) -> list[dict[str, Any]]: ...
    async def start_transfer(self, body: dict[str, Any]) -> TransferView: ...
    async def start_refund(self, transfer_id: str, body: dict[str, Any]) -> TransferView: ...
    async def transfer(self, transfer_id: str) -> TransferView | None: ...
    async def transfers(self, params: dict[str, Any]) -> Page[TransferView]: ...
    async def stuck_sagas(self) -> int: ...
    async def ledger_balances(self) -> tuple[dict[str, int], dict[str, int]]:
        """(wallet accounts, system accounts: `funding:<CUR>` and `fees:<CUR>`)."""
        ...

    async def journal_check(self) -> dict[str, Any]: ...
    async def add_fault(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def faults(self, owner_id: str) -> list[dict[str, Any]]: ...
    async def remove_fault(self, owner_id: str, fault_id: str) -> bool: ...


class PaymentLinkService(Protocol):
    """The orchestrator's payment-link API."""

    async def create(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def link(self, link_id: str) -> dict[str, Any] | None:
        """The link with its `owner_id`; None when there is no such link."""
        ...

    async def links_of(self, owner_id: str, limit: int, cursor: str | None) -> dict[str, Any]: ...
    async def deactivate(self, link_id: str, owner_id: str) -> dict[str, Any]: ...
    async def pay(self, link_id: str, body: dict[str, Any]) -> TransferView: ...
    async def payments(
        self, link_id: str, limit: int, cursor: str | None
    ) -> Page[TransferView]: ...


@dataclass(frozen=True)
class RelayedAnswer:
    """The webhooks service's answer as the gateway passes it on."""

    status: int
    content: bytes
    content_type: str | None
    retry_after: str | None


class WebhooksRelay(Protocol):
    """The webhooks service's internal API, called on behalf of one owner; its answers (and
    problem documents) already have the public shape."""

    async def relay(
        self,
        method: str,
        path: str,
        owner_id: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> RelayedAnswer: ...
