"""Every API call as a `Call`: the one description both clients send."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from payflow_client._core import Call, clean_params, prefer_wait


def _page(limit: int | None, cursor: str | None, **extra: Any) -> dict[str, Any]:
    return clean_params({**extra, "limit": limit, "cursor": cursor})


# ---------------------------------------------------------------- auth
def register(email: str, password: str, name: str) -> Call:
    return Call(
        "POST",
        "/v1/auth/register",
        json={"email": email, "password": password, "name": name},
        authenticated=False,
    )


def login(email: str, password: str) -> Call:
    return Call(
        "POST",
        "/v1/auth/login",
        json={"email": email, "password": password},
        authenticated=False,
    )


def refresh(refresh_token: str) -> Call:
    return Call(
        "POST", "/v1/auth/refresh", json={"refresh_token": refresh_token}, authenticated=False
    )


def logout(refresh_token: str) -> Call:
    return Call(
        "POST", "/v1/auth/logout", json={"refresh_token": refresh_token}, authenticated=False
    )


def me() -> Call:
    return Call("GET", "/v1/auth/me")


# ---------------------------------------------------------------- API keys
def create_api_key(name: str) -> Call:
    return Call("POST", "/v1/api-keys", json={"name": name})


def list_api_keys(limit: int | None, cursor: str | None) -> Call:
    return Call("GET", "/v1/api-keys", params=_page(limit, cursor))


def revoke_api_key(key_id: str) -> Call:
    return Call("DELETE", f"/v1/api-keys/{key_id}")


# ---------------------------------------------------------------- wallets
def list_wallets(limit: int | None, cursor: str | None) -> Call:
    return Call("GET", "/v1/wallets", params=_page(limit, cursor))


def open_wallet(currency: str) -> Call:
    return Call("POST", "/v1/wallets", json={"currency": currency})


def get_wallet(wallet_id: str) -> Call:
    return Call("GET", f"/v1/wallets/{wallet_id}")


def freeze_wallet(wallet_id: str) -> Call:
    return Call("POST", f"/v1/wallets/{wallet_id}/freeze")


def unfreeze_wallet(wallet_id: str) -> Call:
    return Call("POST", f"/v1/wallets/{wallet_id}/unfreeze")


def list_entries(wallet_id: str, limit: int | None, cursor: str | None) -> Call:
    return Call("GET", f"/v1/wallets/{wallet_id}/entries", params=_page(limit, cursor))


# ---------------------------------------------------------------- money
def create_top_up(
    wallet_id: str, amount: int, idempotency_key: str | None, wait: float | None
) -> Call:
    return Call(
        "POST",
        f"/v1/wallets/{wallet_id}/top-ups",
        json={"amount": _amount(amount)},
        headers=prefer_wait(wait),
        money=True,
        idempotency_key=idempotency_key,
    )


def create_transfer(
    *,
    source_wallet_id: str,
    destination_wallet_id: str,
    amount: int,
    currency: str,
    description: str | None,
    metadata: Mapping[str, str] | None,
    idempotency_key: str | None,
    wait: float | None,
) -> Call:
    body: dict[str, Any] = {
        "source_wallet_id": source_wallet_id,
        "destination_wallet_id": destination_wallet_id,
        "amount": _amount(amount),
        "currency": currency,
    }
    if description is not None:
        body["description"] = description
    if metadata:
        body["metadata"] = dict(metadata)
    return Call(
        "POST",
        "/v1/transfers",
        json=body,
        headers=prefer_wait(wait),
        money=True,
        idempotency_key=idempotency_key,
    )


def refund_transfer(
    transfer_id: str, idempotency_key: str | None, wait: float | None, amount: int | None = None
) -> Call:
    return Call(
        "POST",
        f"/v1/transfers/{transfer_id}/refund",
        json={"amount": amount} if amount is not None else None,
        headers=prefer_wait(wait),
        money=True,
        idempotency_key=idempotency_key,
    )


MAX_WAIT_S = 10.0
"""The longest `Prefer: wait` the gateway honours in one call."""


def get_transfer(transfer_id: str, wait: float | None = None) -> Call:
    return Call("GET", f"/v1/transfers/{transfer_id}", headers=prefer_wait(wait))


def list_transfers(
    *,
    status: str | None,
    wallet_id: str | None,
    created_gte: datetime | None,
    created_lte: datetime | None,
    limit: int | None,
    cursor: str | None,
) -> Call:
    return Call(
        "GET",
        "/v1/transfers",
        params=_page(
            limit,
            cursor,
            status=status,
            wallet_id=wallet_id,
            created_gte=created_gte,
            created_lte=created_lte,
        ),
    )


def stream_transfer(transfer_id: str) -> Call:
    return Call(
        "GET", f"/v1/transfers/{transfer_id}/stream", headers={"Accept": "text/event-stream"}
    )


def _amount(amount: int) -> int:
    # bool is an int in Python, and a float amount is a rounding bug waiting to happen.
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("amount is an int of minor units (cents), e.g. 1250 for 12.50")
    return amount


# ---------------------------------------------------------------- webhooks
def create_endpoint(url: str, event_types: Sequence[str], description: str | None) -> Call:
    body: dict[str, Any] = {"url": url, "event_types": list(event_types)}
    if description is not None:
        body["description"] = description
    return Call("POST", "/v1/webhook-endpoints", json=body)


def list_endpoints(limit: int | None, cursor: str | None) -> Call:
    return Call("GET", "/v1/webhook-endpoints", params=_page(limit, cursor))


def get_endpoint(endpoint_id: str) -> Call:
    return Call("GET", f"/v1/webhook-endpoints/{endpoint_id}")


def update_endpoint(endpoint_id: str, changes: Mapping[str, Any]) -> Call:
    return Call("PATCH", f"/v1/webhook-endpoints/{endpoint_id}", json=dict(changes))


def delete_endpoint(endpoint_id: str) -> Call:
    return Call("DELETE", f"/v1/webhook-endpoints/{endpoint_id}")


def rotate_secret(endpoint_id: str) -> Call:
    return Call("POST", f"/v1/webhook-endpoints/{endpoint_id}/rotate-secret")


def list_deliveries(
    endpoint_id: str, status: str | None, limit: int | None, cursor: str | None
) -> Call:
    return Call(
        "GET",
        f"/v1/webhook-endpoints/{endpoint_id}/deliveries",
        params=_page(limit, cursor, status=status),
    )


def get_delivery(delivery_id: str) -> Call:
    return Call("GET", f"/v1/webhook-deliveries/{delivery_id}")


def retry_delivery(delivery_id: str) -> Call:
    return Call("POST", f"/v1/webhook-deliveries/{delivery_id}/retry")


def list_events(type: str | None, limit: int | None, cursor: str | None) -> Call:
    return Call("GET", "/v1/events", params=_page(limit, cursor, type=type))


def get_event(event_id: str) -> Call:
    return Call("GET", f"/v1/events/{event_id}")


# ---------------------------------------------------------------- sandbox and admin
def add_fault(step: str, mode: str, rate: float, match_metadata: Mapping[str, str] | None) -> Call:
    return Call(
        "POST",
        "/v1/sandbox/faults",
        json={
            "step": step,
            "mode": mode,
            "rate": rate,
            "match_metadata": dict(match_metadata or {}),
        },
    )


def list_faults() -> Call:
    return Call("GET", "/v1/sandbox/faults")


def remove_fault(fault_id: str) -> Call:
    return Call("DELETE", f"/v1/sandbox/faults/{fault_id}")


def reconciliation() -> Call:
    return Call("GET", "/v1/admin/reconciliation")


def admin_transfer(transfer_id: str) -> Call:
    return Call("GET", f"/v1/admin/transfers/{transfer_id}")


def list_users(limit: int | None, cursor: str | None) -> Call:
    return Call("GET", "/v1/admin/users", params=_page(limit, cursor))
