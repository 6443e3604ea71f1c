"""Clients of the internal HTTP APIs behind the gateway (wallet, ledger, orchestrator, webhooks).

Transport failures and 5xx become 503 problems, refusals keep the other service's problem
`code`. Transfers are read as the typed `TransferView` the orchestrator answers."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel

from payflow_contracts.transfers import TransferView
from payflow_gateway.domain.errors import ServiceUnavailable
from payflow_gateway.domain.pages import Page
from payflow_gateway.domain.wallets import (
    LedgerEntry,
    StatementPage,
    Wallet,
    WalletFacts,
    WalletStatus,
    facts_of,
)
from payflow_gateway.ids import is_id, segment
from payflow_gateway.ports import RelayedAnswer
from payflow_service import ProblemError

logger = logging.getLogger(__name__)


async def call_service(
    client: httpx.AsyncClient, service: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        logger.warning("%s %s on %s failed: %r", method, path, service, exc)
        raise ServiceUnavailable(service) from exc
    if response.status_code >= 500:
        logger.warning("%s %s on %s answered %s", method, path, service, response.status_code)
        raise ServiceUnavailable(service)
    if response.status_code in (401, 403):
        # Our service token was refused: a deployment error, not the client's.
        logger.error("%s refused the gateway's service token", service)
        raise ServiceUnavailable(service)
    return response


def _json(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return body


def refusal(response: httpx.Response) -> ProblemError:
    """The other service's 4xx answer, passed on with its code (the body is problem+json)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ProblemError(
        response.status_code,
        str(body.get("code") or "bad_request"),
        str(body.get("detail") or "The request was refused."),
        errors=body.get("errors"),
    )


# ---------------------------------------------------------------- wallet service


def wallet_from_json(body: dict[str, Any]) -> Wallet:
    return Wallet(
        id=body["id"],
        owner_id=body["owner_id"],
        currency=body["currency"],
        balance=int(body["balance"]),
        status=WalletStatus(body["status"]),
        created_at=datetime.fromisoformat(body["created_at"]),
        updated_at=datetime.fromisoformat(body["updated_at"]),
    )


class HttpWalletDirectory:
    def __init__(self, client: httpx.AsyncClient, facts_capacity: int = 100_000) -> None:
        self._client = client
        # A wallet's owner and currency are fixed at opening, so a remembered answer is never
        # stale; unknown ids are not remembered (the wallet may be opened a moment later).
        self._facts: dict[str, WalletFacts] = {}
        self._facts_capacity = facts_capacity

    def _remember(self, wallet: Wallet) -> Wallet:
        if len(self._facts) >= self._facts_capacity:
            self._facts.pop(next(iter(self._facts)))  # the oldest entry: bounded memory
        self._facts[wallet.id] = facts_of(wallet)
        return wallet

    async def facts(self, wallet_id: str) -> WalletFacts | None:
        known = self._facts.get(wallet_id)
        if known is not None:
            return known
        wallet = await self.wallet(wallet_id)
        return facts_of(wallet) if wallet is not None else None

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await call_service(self._client, "wallet", method, path, **kwargs)

    async def open_wallet(self, owner_id: str, currency: str) -> Wallet:
        response = await self._call(
            "POST", "/internal/wallets", json={"owner_id": owner_id, "currency": currency}
        )
        if response.status_code not in (200, 201):
            raise refusal(response)
        return self._remember(wallet_from_json(response.json()))

    async def wallet(self, wallet_id: str) -> Wallet | None:
        if not is_id(wallet_id, "wal"):
            return None  # no wallet has such an id
        response = await self._call("GET", f"/internal/wallets/{segment(wallet_id)}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise refusal(response)
        return self._remember(wallet_from_json(response.json()))

    async def wallets_of(self, owner_id: str, limit: int, cursor: str | None) -> Page[Wallet]:
        params: dict[str, Any] = {"owner_id": owner_id, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._call("GET", "/internal/wallets", params=params)
        if response.status_code != 200:
            raise refusal(response)
        body = response.json()
        return Page([wallet_from_json(w) for w in body["data"]], body.get("next_cursor"))

    async def _set_frozen(self, wallet_id: str, action: str) -> Wallet:
        response = await self._call("POST", f"/internal/wallets/{segment(wallet_id)}/{action}")
        if response.status_code != 200:
            raise refusal(response)
        return wallet_from_json(response.json())

    async def freeze(self, wallet_id: str) -> Wallet:
        return await self._set_frozen(wallet_id, "freeze")

    async def unfreeze(self, wallet_id: str) -> Wallet:
        return await self._set_frozen(wallet_id, "unfreeze")


# ---------------------------------------------------------------- ledger service


def entry_from_json(body: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        id=body["id"],
        transfer_id=body.get("transfer_id"),
        direction=body["direction"],
        amount=int(body["amount"]),
        currency=body["currency"],
        kind=body["kind"],
        created_at=datetime.fromisoformat(body["created_at"]),
    )


class HttpLedgerReader:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def entries_of(self, wallet_id: str, limit: int, cursor: str | None) -> Page[LedgerEntry]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await call_service(
            self._client,
            "ledger",
            "GET",
            f"/internal/accounts/{segment(wallet_id)}/entries",
            params=params,
        )
        if response.status_code != 200:
            raise refusal(response)
        body = response.json()
        return Page([entry_from_json(e) for e in body["data"]], body.get("next_cursor"))

    async def statement_page(
        self,
        wallet_id: str,
        start: datetime | None,
        end: datetime | None,
        cursor: str | None,
        limit: int,
    ) -> StatementPage:
        params: dict[str, Any] = {"limit": limit}
        for name, value in (("from", start), ("to", end)):
            if value is not None:
                params[name] = value.isoformat()
        if cursor:
            params["cursor"] = cursor
        response = await call_service(
            self._client,
            "ledger",
            "GET",
            f"/internal/accounts/{segment(wallet_id)}/statement",
            params=params,
        )
        if response.status_code != 200:
            raise refusal(response)
        body = response.json()
        return StatementPage(
            body.get("opening_balance"),
            [entry_from_json(e) for e in body["data"]],
            body.get("next_cursor"),
        )


# ---------------------------------------------------------------- orchestrator


class _TransferPage(BaseModel):
    data: list[TransferView]
    next_cursor: str | None = None


def transfer_page(response: httpx.Response) -> Page[TransferView]:
    """A list of the orchestrator's transfers, parsed straight from the answer's bytes."""
    page = _TransferPage.model_validate_json(response.content)
    return Page(page.data, page.next_cursor)


class HttpPaymentServices:
    def __init__(
        self, orchestrator: httpx.AsyncClient, wallet: httpx.AsyncClient, ledger: httpx.AsyncClient
    ) -> None:
        self._orchestrator = orchestrator
        self._wallet = wallet
        self._ledger = ledger

    async def _orchestrator_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await call_service(self._orchestrator, "orchestrator", method, path, **kwargs)

    async def all_wallets(self) -> list[dict[str, Any]]:
        wallets: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            response = await call_service(
                self._wallet, "wallet", "GET", "/internal/wallets", params=params
            )
            response.raise_for_status()
            page = response.json()
            wallets += page["data"]
            cursor = page.get("next_cursor")
            if not cursor:
                return wallets

    async def start_transfer(self, body: dict[str, Any]) -> TransferView:
        response = await self._orchestrator_call("POST", "/internal/transfers", json=body)
        if response.status_code >= 400:
            raise refusal(response)  # e.g. 422 idempotency_key_reused, with its code
        return TransferView.model_validate_json(response.content)

    async def start_refund(self, transfer_id: str, body: dict[str, Any]) -> TransferView:
        response = await self._orchestrator_call(
            "POST", f"/internal/transfers/{segment(transfer_id)}/refunds", json=body
        )
        if response.status_code >= 400:
            raise refusal(response)  # 422 refund_exceeds_remaining, transfer_not_refundable, ...
        return TransferView.model_validate_json(response.content)

    async def transfer(self, transfer_id: str) -> TransferView | None:
        if not is_id(transfer_id, "tr"):
            return None
        response = await self._orchestrator_call(
            "GET", f"/internal/transfers/{segment(transfer_id)}"
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return TransferView.model_validate_json(response.content)

    async def transfers(self, params: dict[str, Any]) -> Page[TransferView]:
        response = await self._orchestrator_call("GET", "/internal/transfers", params=params)
        if response.status_code >= 400:
            raise refusal(response)  # 400 invalid_cursor, 422 validation_error
        return transfer_page(response)

    async def stuck_sagas(self) -> int:
        response = await self._orchestrator_call("GET", "/internal/sagas/stuck")
        response.raise_for_status()
        return int(response.json()["stuck_transfers"])

    async def ledger_balances(self) -> tuple[dict[str, int], dict[str, int]]:
        response = await call_service(self._ledger, "ledger", "GET", "/internal/balances")
        response.raise_for_status()
        body = response.json()
        return (
            {k: int(v) for k, v in body["balances"].items()},
            {k: int(v) for k, v in body.get("system", {}).items()},
        )

    async def journal_check(self) -> dict[str, Any]:
        response = await call_service(self._ledger, "ledger", "GET", "/internal/journal/check")
        response.raise_for_status()
        return _json(response)

    async def add_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._orchestrator_call("POST", "/internal/faults", json=body)
        if response.status_code >= 400:
            raise refusal(response)  # e.g. 409 quota_exceeded, with its code
        return _json(response)

    async def faults(self, owner_id: str) -> list[dict[str, Any]]:
        response = await self._orchestrator_call(
            "GET", "/internal/faults", params={"owner_id": owner_id}
        )
        response.raise_for_status()
        return list(_json(response)["data"])

    async def remove_fault(self, owner_id: str, fault_id: str) -> bool:
        response = await self._orchestrator_call(
            "DELETE", f"/internal/faults/{segment(fault_id)}", params={"owner_id": owner_id}
        )
        return response.status_code == 204


class HttpPaymentLinkService:
    def __init__(self, orchestrator: httpx.AsyncClient) -> None:
        self._client = orchestrator

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await call_service(self._client, "orchestrator", method, path, **kwargs)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._call("POST", "/internal/payment-links", json=body)
        if response.status_code >= 400:
            raise refusal(response)  # 422 amount_below_fee, validation_error, ...
        return _json(response)

    async def link(self, link_id: str) -> dict[str, Any] | None:
        if not is_id(link_id, "pl"):
            return None
        response = await self._call("GET", f"/internal/payment-links/{segment(link_id)}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise refusal(response)
        return _json(response)

    async def links_of(self, owner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"owner_id": owner_id, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._call("GET", "/internal/payment-links", params=params)
        if response.status_code >= 400:
            raise refusal(response)  # 400 invalid_cursor
        return _json(response)

    async def deactivate(self, link_id: str, owner_id: str) -> dict[str, Any]:
        response = await self._call(
            "POST",
            f"/internal/payment-links/{segment(link_id)}/deactivate",
            json={"owner_id": owner_id},
        )
        if response.status_code >= 400:
            raise refusal(response)
        return _json(response)

    async def pay(self, link_id: str, body: dict[str, Any]) -> TransferView:
        response = await self._call(
            "POST", f"/internal/payment-links/{segment(link_id)}/payments", json=body
        )
        if response.status_code >= 400:
            raise refusal(response)  # 410 payment_link_expired, 409 payment_link_busy, ...
        return TransferView.model_validate_json(response.content)

    async def payments(self, link_id: str, limit: int, cursor: str | None) -> Page[TransferView]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._call(
            "GET", f"/internal/payment-links/{segment(link_id)}/payments", params=params
        )
        if response.status_code >= 400:
            raise refusal(response)
        return transfer_page(response)


# ---------------------------------------------------------------- webhooks service


class HttpWebhooks:
    """The webhooks service's internal API, called on behalf of one owner; its answers (and
    problem documents) already have the public shape."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def relay(
        self,
        method: str,
        path: str,
        owner_id: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> RelayedAnswer:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query["owner_id"] = owner_id
        answer = await call_service(
            self._client, "webhooks", method, f"/internal{path}", params=query, json=json
        )
        return RelayedAnswer(
            status=answer.status_code,
            content=answer.content,
            content_type=answer.headers.get("content-type"),
            retry_after=answer.headers.get("retry-after"),
        )
