"""Clients of the internal APIs the payment routes need beyond the wallet directory:
the orchestrator, the ledger's reconciliation views, and the list of all wallets."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from payflow_gateway.ids import is_id, segment
from payflow_gateway.internal_http import call_service, refusal


class PaymentServices(Protocol):
    async def all_wallets(self) -> list[dict[str, Any]]: ...
    async def start_transfer(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def start_refund(self, transfer_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    async def transfer(self, transfer_id: str) -> dict[str, Any] | None: ...
    async def transfers(self, params: dict[str, Any]) -> dict[str, Any]: ...
    async def stuck_sagas(self) -> int: ...
    async def ledger_balances(self) -> tuple[dict[str, int], dict[str, int]]:
        """(wallet accounts, system accounts: `funding:<CUR>` and `fees:<CUR>`)."""
        ...

    async def journal_check(self) -> dict[str, Any]: ...
    async def add_fault(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def faults(self, owner_id: str) -> list[dict[str, Any]]: ...
    async def remove_fault(self, owner_id: str, fault_id: str) -> bool: ...


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

    async def start_transfer(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._orchestrator_call("POST", "/internal/transfers", json=body)
        if response.status_code >= 400:
            raise refusal(response)  # e.g. 422 idempotency_key_reused, with its code
        return response.json()  # type: ignore[no-any-return]

    async def start_refund(self, transfer_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._orchestrator_call(
            "POST", f"/internal/transfers/{segment(transfer_id)}/refunds", json=body
        )
        if response.status_code >= 400:
            raise refusal(response)  # 422 refund_exceeds_remaining, transfer_not_refundable, ...
        return response.json()  # type: ignore[no-any-return]

    async def transfer(self, transfer_id: str) -> dict[str, Any] | None:
        if not is_id(transfer_id, "tr"):
            return None
        response = await self._orchestrator_call(
            "GET", f"/internal/transfers/{segment(transfer_id)}"
        )
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()  # type: ignore[no-any-return]

    async def transfers(self, params: dict[str, Any]) -> dict[str, Any]:
        response = await self._orchestrator_call("GET", "/internal/transfers", params=params)
        if response.status_code >= 400:
            raise refusal(response)  # 400 invalid_cursor, 422 validation_error
        return response.json()  # type: ignore[no-any-return]

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
        return response.json()  # type: ignore[no-any-return]

    async def add_fault(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._orchestrator_call("POST", "/internal/faults", json=body)
        if response.status_code >= 400:
            raise refusal(response)  # e.g. 409 quota_exceeded, with its code
        return response.json()  # type: ignore[no-any-return]

    async def faults(self, owner_id: str) -> list[dict[str, Any]]:
        response = await self._orchestrator_call(
            "GET", "/internal/faults", params={"owner_id": owner_id}
        )
        response.raise_for_status()
        return response.json()["data"]  # type: ignore[no-any-return]

    async def remove_fault(self, owner_id: str, fault_id: str) -> bool:
        response = await self._orchestrator_call(
            "DELETE", f"/internal/faults/{segment(fault_id)}", params={"owner_id": owner_id}
        )
        return response.status_code == 204
