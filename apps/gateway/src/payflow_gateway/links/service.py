"""The orchestrator's payment-link API as the gateway uses it: a protocol and its HTTP adapter."""

from __future__ import annotations

from typing import Any, Protocol

import httpx

from payflow_gateway.ids import is_id, segment
from payflow_gateway.internal_http import call_service, refusal


class PaymentLinkService(Protocol):
    async def create(self, body: dict[str, Any]) -> dict[str, Any]: ...
    async def link(self, link_id: str) -> dict[str, Any] | None:
        """The link with its `owner_id`; None when there is no such link."""
        ...

    async def links_of(self, owner_id: str, limit: int, cursor: str | None) -> dict[str, Any]: ...
    async def deactivate(self, link_id: str, owner_id: str) -> dict[str, Any]: ...
    async def pay(self, link_id: str, body: dict[str, Any]) -> dict[str, Any]: ...
    async def payments(self, link_id: str, limit: int, cursor: str | None) -> dict[str, Any]: ...


class HttpPaymentLinkService:
    def __init__(self, orchestrator: httpx.AsyncClient) -> None:
        self._client = orchestrator

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return await call_service(self._client, "orchestrator", method, path, **kwargs)

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._call("POST", "/internal/payment-links", json=body)
        if response.status_code >= 400:
            raise refusal(response)  # 422 amount_below_fee, validation_error, ...
        return response.json()  # type: ignore[no-any-return]

    async def link(self, link_id: str) -> dict[str, Any] | None:
        if not is_id(link_id, "pl"):
            return None
        response = await self._call("GET", f"/internal/payment-links/{segment(link_id)}")
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise refusal(response)
        return response.json()  # type: ignore[no-any-return]

    async def links_of(self, owner_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"owner_id": owner_id, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._call("GET", "/internal/payment-links", params=params)
        if response.status_code >= 400:
            raise refusal(response)  # 400 invalid_cursor
        return response.json()  # type: ignore[no-any-return]

    async def deactivate(self, link_id: str, owner_id: str) -> dict[str, Any]:
        response = await self._call(
            "POST",
            f"/internal/payment-links/{segment(link_id)}/deactivate",
            json={"owner_id": owner_id},
        )
        if response.status_code >= 400:
            raise refusal(response)
        return response.json()  # type: ignore[no-any-return]

    async def pay(self, link_id: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._call(
            "POST", f"/internal/payment-links/{segment(link_id)}/payments", json=body
        )
        if response.status_code >= 400:
            raise refusal(response)  # 410 payment_link_expired, 409 payment_link_busy, ...
        return response.json()  # type: ignore[no-any-return]

    async def payments(self, link_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        response = await self._call(
            "GET", f"/internal/payment-links/{segment(link_id)}/payments", params=params
        )
        if response.status_code >= 400:
            raise refusal(response)
        return response.json()  # type: ignore[no-any-return]
