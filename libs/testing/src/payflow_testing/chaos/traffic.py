"""The load of a chaos run, through the public API only: users, their funding, endpoints and
sandbox fault rules, then an open loop of money movements at a fixed rate.

Each operation is what a careful client does: one Idempotency-Key for all its attempts, a gateway
chosen at random for every attempt, and a retry (with the same key) after a broken connection, a
503, a 409 `idempotency_key_in_use` or a 429, until the request is answered or two minutes have
passed. A share of the operations fail on purpose:

- `insufficient`: from the pauper, whose wallet never holds money;
- `frozen`: to the frozen user's wallet (the credit is refused: compensated);
- `ledger-reject`: metadata `chaos=ledger-reject`, which the sender's sandbox fault rule makes
  the ledger refuse (compensated);
- `ledger-error`: the ledger's handler raises on the posting (sandbox `error` fault): the command
  is redelivered until dead-lettered, the orchestrator re-sends, gives up (`step_timeout`) and
  compensates; the dead letters must all be explained by a terminal saga;
- `debit-timeout`: the wallet acknowledges the debit and does nothing (sandbox `timeout`): re-sent,
  abandoned, settled by a refund that finds no debit (`step_timeout`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

PASSWORD = "chaos-password-123"  # noqa: S105 - throwaway users of a test run
CURRENCY = "USD"
OPENING_BALANCE = 100_000
FAULT_RULES = (
    ("ledger-reject", "ledger", "reject"),
    ("ledger-error", "ledger", "error"),
    ("debit-timeout", "debit", "timeout"),
)
"""Sandbox fault rules every regular user has: (metadata value of `chaos`, step, mode)."""
RETRIABLE = frozenset({409, 429, 500, 502, 503, 504})
OPERATION_DEADLINE_S = 120.0
TERMINAL = frozenset({"completed", "failed"})

# The mix of operations: kind -> weight.
MIX: dict[str, int] = {
    "transfer": 50,
    "top-up": 8,
    "refund": 12,
    "insufficient": 10,
    "frozen": 10,
    "ledger-reject": 10,
    "ledger-error": 2,
    "debit-timeout": 2,
}
DELIBERATE_FAILURES = {
    "insufficient": "insufficient_funds",
    "frozen": "destination_unavailable",
    "ledger-reject": "ledger_rejected",
    "ledger-error": "step_timeout",
    "debit-timeout": "step_timeout",
}


@dataclass(frozen=True)
class User:
    index: int
    role: str
    """`regular`, `pauper` or `frozen`."""
    user_id: str
    wallet_id: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Operation:
    kind: str
    key: str
    started: float
    user: str
    transfer_id: str | None = None
    status: str = "pending"
    """pending, completed, failed, refused (a final 4xx) or gave-up (never answered)."""
    failure_code: str | None = None
    http_status: int | None = None
    problem_code: str | None = None
    attempts: int = 0
    retries: dict[str, int] = field(default_factory=dict)
    ended: float | None = None
    refund_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "transfer_id": self.transfer_id,
            "status": self.status,
            "failure_code": self.failure_code,
            "http_status": self.http_status,
            "problem_code": self.problem_code,
            "attempts": self.attempts,
            "retries": self.retries,
            "refund_of": self.refund_of,
        }


class Traffic:
    def __init__(self, gateways: Sequence[str], rate: float, seed: int, users: int = 12) -> None:
        self._gateways = list(gateways)
        self.rate = rate
        self._rng = random.Random(seed ^ 0x5EED)
        self._user_count = users
        self._clients = [
            httpx.AsyncClient(base_url=url, timeout=20.0, limits=httpx.Limits(max_connections=64))
            for url in self._gateways
        ]
        self.users: list[User] = []
        self.operations: list[Operation] = []
        self.refundable: list[tuple[str, User]] = []
        """Completed transfers not yet refunded, with their recipient."""
        self.refunded: list[tuple[str, User]] = []
        self.terminal_seen: list[float] = []
        """time.monotonic() of every terminal answer: when sagas were seen to progress."""
        self.in_flight = 0
        self.admin_token: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ plumbing

    def _client(self) -> httpx.AsyncClient:
        return self._rng.choice(self._clients)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def call(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
        deadline_s: float = OPERATION_DEADLINE_S,
        operation: Operation | None = None,
    ) -> httpx.Response | None:
        """One request as a careful client makes it: retried on a random gateway until answered
        with something final, or None once `deadline_s` has passed."""
        deadline = time.monotonic() + deadline_s
        delay = 0.2
        while time.monotonic() < deadline:
            if operation is not None:
                operation.attempts += 1
            try:
                response = await self._client().request(
                    method, path, headers=headers, json=json, params=params
                )
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            else:
                if response.status_code not in RETRIABLE:
                    return response
                reason = str(response.status_code)
                retry_after = response.headers.get("retry-after")
                if retry_after and retry_after.isdigit():
                    delay = max(delay, min(float(retry_after), 5.0))
            if operation is not None:
                operation.retries[reason] = operation.retries.get(reason, 0) + 1
            await asyncio.sleep(delay * (0.5 + self._rng.random()))
            delay = min(delay * 1.6, 3.0)
        return None

    async def _checked(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        if response is None or response.status_code >= 300:
            text = "no answer" if response is None else f"{response.status_code} {response.text}"
            raise RuntimeError(f"{method} {path}: {text}")
        return response.json() if response.content else None

    # ------------------------------------------------------------ setup

    async def login_admin(self, email: str, password: str) -> None:
        answer = await self._checked(
            "POST", "/v1/auth/login", json={"email": email, "password": password}
        )
        self.admin_token = str(answer["access_token"])

    async def _register(self, index: int, role: str) -> User:
        email = f"chaos-{role}-{index}-{uuid.uuid4().hex[:8]}@example.com"
        created = await self._checked(
            "POST",
            "/v1/auth/register",
            json={"email": email, "password": PASSWORD, "name": f"{role}{index}"},
        )
        login = await self._checked(
            "POST", "/v1/auth/login", json={"email": email, "password": PASSWORD}
        )
        return User(
            index=index,
            role=role,
            user_id=str(created["user"]["id"]),
            wallet_id=str(created["wallet"]["id"]),
            token=str(login["access_token"]),
        )

    async def set_up(self, endpoint_urls: Sequence[str]) -> dict[str, str]:
        """Users, funding, the frozen wallet, fault rules and one endpoint per user (URLs taken
        in turn from `endpoint_urls`). Answers user id -> endpoint URL."""
        roles = ["regular"] * self._user_count + ["pauper", "frozen"]
        self.users = list(
            await asyncio.gather(*(self._register(i, role) for i, role in enumerate(roles)))
        )
        for user in self.regulars:
            await self._checked(
                "POST",
                f"/v1/wallets/{user.wallet_id}/top-ups",
                json={"amount": OPENING_BALANCE},
                headers={**user.headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
            )
            for label, step, mode in FAULT_RULES:
                await self._checked(
                    "POST",
                    "/v1/sandbox/faults",
                    json={"step": step, "mode": mode, "match_metadata": {"chaos": label}},
                    headers=user.headers,
                )
        frozen = self.frozen_user
        await self._checked(
            "POST", f"/v1/wallets/{frozen.wallet_id}/freeze", headers=frozen.headers
        )
        endpoints: dict[str, str] = {}
        for user in self.users:
            url = endpoint_urls[user.index % len(endpoint_urls)].rstrip("/") + f"/u{user.index}"
            await self._checked(
                "POST",
                "/v1/webhook-endpoints",
                json={"url": url, "event_types": ["*"], "description": "chaos run"},
                headers=user.headers,
            )
            endpoints[user.user_id] = url
        return endpoints

    @property
    def regulars(self) -> list[User]:
        return [u for u in self.users if u.role == "regular"]

    @property
    def pauper(self) -> User:
        return next(u for u in self.users if u.role == "pauper")

    @property
    def frozen_user(self) -> User:
        return next(u for u in self.users if u.role == "frozen")

    # ------------------------------------------------------------ the load

    async def run(self, stop: asyncio.Event, max_in_flight: int = 64) -> None:
        """Start operations at `rate` per second until `stop` is set; then wait for those
        running. At most `max_in_flight` run at once: an outage holds new ones back."""
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        slots = asyncio.Semaphore(max_in_flight)
        while not stop.is_set():
            next_at += interval * (0.5 + self._rng.random())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(0.0, next_at - time.monotonic()))
            if stop.is_set():
                break
            await slots.acquire()
            self._launch(self._next_operation()).add_done_callback(lambda _: slots.release())
        await self.drain()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _launch(self, job: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _next_operation(self) -> Any:
        kinds = list(MIX)
        kind = self._rng.choices(kinds, weights=[MIX[k] for k in kinds])[0]
        if kind == "refund" and not self.refundable:
            kind = "transfer"
        regulars = self.regulars
        if kind == "transfer":
            source, destination = self._rng.sample(regulars, 2)
            return self._transfer(kind, source, destination, self._rng.randint(1, 2_000))
        if kind == "insufficient":
            return self._transfer(
                kind, self.pauper, self._rng.choice(regulars), self._rng.randint(1, 500)
            )
        if kind == "frozen":
            return self._transfer(
                kind, self._rng.choice(regulars), self.frozen_user, self._rng.randint(1, 500)
            )
        if kind in ("ledger-reject", "ledger-error", "debit-timeout"):
            source, destination = self._rng.sample(regulars, 2)
            return self._transfer(
                kind, source, destination, self._rng.randint(1, 500), metadata={"chaos": kind}
            )
        if kind == "top-up":
            return self._top_up(self._rng.choice(regulars), self._rng.randint(1_000, 20_000))
        # A refund by the recipient; now and then one asked for a second time (it must answer
        # with the refund already made, never move money twice).
        if self.refunded and self._rng.random() < 0.15:
            transfer_id, recipient = self._rng.choice(self.refunded)
        else:
            transfer_id, recipient = self.refundable.pop(self._rng.randrange(len(self.refundable)))
            self.refunded.append((transfer_id, recipient))
        return self._refund(transfer_id, recipient)

    def _operation(self, kind: str, user: User) -> Operation:
        operation = Operation(
            kind=kind, key=uuid.uuid4().hex, started=time.monotonic(), user=user.user_id
        )
        self.operations.append(operation)
        return operation

    async def _transfer(
        self,
        kind: str,
        source: User,
        destination: User,
        amount: int,
        metadata: dict[str, str] | None = None,
    ) -> None:
        operation = self._operation(kind, source)
        body: dict[str, Any] = {
            "source_wallet_id": source.wallet_id,
            "destination_wallet_id": destination.wallet_id,
            "amount": amount,
            "currency": CURRENCY,
        }
        if metadata:
            body["metadata"] = metadata
        await self._money_call(operation, source, "/v1/transfers", body, recipient=destination)

    async def _top_up(self, user: User, amount: int) -> None:
        operation = self._operation("top-up", user)
        await self._money_call(
            operation, user, f"/v1/wallets/{user.wallet_id}/top-ups", {"amount": amount}
        )

    async def _refund(self, transfer_id: str, recipient: User) -> None:
        operation = self._operation("refund", recipient)
        operation.refund_of = transfer_id
        await self._money_call(operation, recipient, f"/v1/transfers/{transfer_id}/refund", None)

    async def _money_call(
        self,
        operation: Operation,
        user: User,
        path: str,
        body: dict[str, Any] | None,
        recipient: User | None = None,
    ) -> None:
        self.in_flight += 1
        try:
            headers = {**user.headers, "Idempotency-Key": operation.key, "Prefer": "wait=5"}
            response = await self.call(
                "POST", path, headers=headers, json=body, operation=operation
            )
            if response is None:
                operation.status = "gave-up"
                return
            operation.http_status = response.status_code
            if response.status_code not in (200, 202):
                operation.status = "refused"
                try:
                    operation.problem_code = str(response.json().get("code"))
                except ValueError:
                    operation.problem_code = None
                return
            transfer = response.json()
            operation.transfer_id = str(transfer["id"])
            if transfer["status"] not in TERMINAL:
                transfer = await self._follow(operation, user)
            if transfer is None:
                operation.status = "gave-up"
                return
            self.terminal_seen.append(time.monotonic())
            operation.status = str(transfer["status"])
            operation.failure_code = transfer.get("failure_code")
            if (
                operation.kind == "transfer"
                and operation.status == "completed"
                and recipient is not None
            ):
                self.refundable.append((operation.transfer_id, recipient))
        finally:
            operation.ended = time.monotonic()
            self.in_flight -= 1

    async def _follow(self, operation: Operation, user: User) -> dict[str, Any] | None:
        """Read the transfer until it is terminal (or the operation's deadline passes)."""
        deadline = operation.started + OPERATION_DEADLINE_S
        while time.monotonic() < deadline:
            await asyncio.sleep(1.0)
            response = await self.call(
                "GET",
                f"/v1/transfers/{operation.transfer_id}",
                headers=user.headers,
                deadline_s=max(1.0, deadline - time.monotonic()),
            )
            if response is not None and response.status_code == 200:
                transfer: dict[str, Any] = response.json()
                if transfer["status"] in TERMINAL:
                    return transfer
        return None

    # ------------------------------------------------------------ figures

    def outcomes(self) -> dict[str, dict[str, int]]:
        """kind -> outcome (`completed`, `failed:<code>`, `refused:<code>`, ...) -> count."""
        table: dict[str, dict[str, int]] = {}
        for op in self.operations:
            if op.status == "failed":
                label = f"failed:{op.failure_code}"
            elif op.status == "refused":
                label = f"refused:{op.problem_code or op.http_status}"
            else:
                label = op.status
            row = table.setdefault(op.kind, {})
            row[label] = row.get(label, 0) + 1
        return table

    def deliberate_failure_ids(self) -> dict[str, str]:
        """transfer id -> the kind of deliberate failure it was sent as."""
        return {
            op.transfer_id: op.kind
            for op in self.operations
            if op.kind in DELIBERATE_FAILURES and op.transfer_id
        }
