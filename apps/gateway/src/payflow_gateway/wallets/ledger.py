"""The ledger service as the gateway reads it (a wallet's statement): a protocol and the HTTP
adapter of its internal API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from payflow_gateway.domain.pages import Page
from payflow_gateway.domain.wallets import LedgerEntry
from payflow_gateway.ids import segment
from payflow_gateway.internal_http import call_service, refusal


@dataclass(frozen=True)
class StatementPage:
    opening_balance: int | None
    """The balance just before the statement's start (first page only)."""
    entries: list[LedgerEntry]
    """Oldest first."""
    next_cursor: str | None


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
