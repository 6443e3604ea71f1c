"""Helpers of the end-to-end tests: registered customers, waiting for terminal transfers,
reconciliation once the system is quiet."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

ADMIN_EMAIL = "ops-admin@example.com"
ADMIN_PASSWORD = "admin-password-for-e2e"

E2E_ENV = {
    "PAYFLOW_BCRYPT_ROUNDS": "4",
    "PAYFLOW_STEP_TIMEOUT_S": "1.5",
    "PAYFLOW_FORWARD_STEP_MAX_SENDS": "3",
    "PAYFLOW_COMPENSATION_BACKOFF_MAX_S": "3",
    "PAYFLOW_SWEEPER_INTERVAL_S": "0.3",
    "PAYFLOW_STREAM_CLAIM_IDLE_MS": "2000",
    "PAYFLOW_STUCK_GRACE_S": "5",
    "PAYFLOW_WEBHOOK_RETRY_SCHEDULE": "1,2",
    "PAYFLOW_IDEMPOTENCY_LOCK_S": "5",
    "PAYFLOW_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
    "PAYFLOW_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
    # Small enough for tests/e2e/test_quotas.py to reach; each test registers its own users.
    "PAYFLOW_MAX_DELIVERY_RETRIES_PER_HOUR": "3",
}


@dataclass
class Customer:
    """A registered user with a bearer token and a default USD wallet."""

    client: httpx.AsyncClient
    user_id: str
    email: str
    wallet_id: str

    async def wallet(self, wallet_id: str | None = None) -> dict[str, Any]:
        response = await self.client.get(f"/v1/wallets/{wallet_id or self.wallet_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def balance(self, wallet_id: str | None = None) -> int:
        return int((await self.wallet(wallet_id))["balance"])

    async def top_up(self, amount: int, wallet_id: str | None = None) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/wallets/{wallet_id or self.wallet_id}/top-ups",
            json={"amount": amount},
            headers={"Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
        )
        assert response.status_code in (200, 202), response.text
        transfer = await wait_terminal(self, response.json()["id"])
        assert transfer["status"] == "completed", transfer
        return transfer

    async def transfer(
        self,
        destination: str,
        amount: int,
        *,
        key: str | None = None,
        wait: bool = True,
        source: str | None = None,
        **extra: Any,
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        if wait:
            headers["Prefer"] = "wait=10"
        body = {
            "source_wallet_id": source or self.wallet_id,
            "destination_wallet_id": destination,
            "amount": amount,
            "currency": "USD",
            **extra,
        }
        return await self.client.post("/v1/transfers", json=body, headers=headers)


async def wait_terminal(
    customer: Customer, transfer_id: str, timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = await customer.client.get(f"/v1/transfers/{transfer_id}")
        except httpx.TransportError:  # a process of the stack is being restarted
            await asyncio.sleep(0.2)
            continue
        assert response.status_code == 200, response.text
        transfer: dict[str, Any] = response.json()
        if transfer["status"] in ("completed", "failed"):
            return transfer
        if time.monotonic() > deadline:
            raise AssertionError(f"transfer not terminal after {timeout}s: {transfer}")
        await asyncio.sleep(0.2)


async def register(gateway_url: str, name: str = "user") -> Customer:
    email = f"{name}-{secrets.token_hex(4)}@example.com"
    password = "a-long-enough-password"
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as anonymous:
        created = await anonymous.post(
            "/v1/auth/register", json={"email": email, "password": password, "name": name}
        )
        assert created.status_code == 201, created.text
        login = await anonymous.post("/v1/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
    body = created.json()
    client = httpx.AsyncClient(
        base_url=gateway_url,
        timeout=60,
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        limits=httpx.Limits(max_connections=50),
    )
    return Customer(client, body["user"]["id"], email, body["wallet"]["id"])


async def reconcile(admin: httpx.AsyncClient, timeout: float = 60) -> dict[str, Any]:
    """Reconciliation once the system is quiet: polls until `ok` or the timeout."""
    deadline = time.monotonic() + timeout
    while True:
        response = await admin.get("/v1/admin/reconciliation")
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        if report["ok"] or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.5)


def deliveries_of(receiver: Any, path: str, transfer_id: str) -> list[Any]:
    """What `receiver` got on `path` about the transfer `transfer_id`."""
    return [r for r in receiver.received(path) if json.loads(r.body)["data"]["id"] == transfer_id]


async def first_deliveries(
    receiver: Any, path: str, transfer_id: str, timeout: float = 30
) -> list[Any]:
    """The transfer's deliveries once at least one arrived; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not (found := deliveries_of(receiver, path, transfer_id)):
        assert time.monotonic() < deadline, f"no webhook of {transfer_id} after {timeout}s"
        await asyncio.sleep(0.1)
    return found
