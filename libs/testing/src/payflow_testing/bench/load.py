"""The load the bench puts on the public API: bench users, their funding and webhook endpoints,
closed-loop transfers (each client waits on its POST with `Prefer: wait`, never polls), and the
webhook deliveries those transfers cause, as a real receiver sees them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx

from payflow_testing.receiver import Receiver

PASSWORD = "bench-password-123"  # noqa: S105 - throwaway bench users
PREFER_WAIT = "wait=30"
CURRENCY = "USD"

T = TypeVar("T")


@dataclass(frozen=True)
class User:
    index: int
    user_id: str
    wallet_id: str
    headers: dict[str, str]


async def gather_bounded(limit: int, jobs: Iterable[Awaitable[T]]) -> list[T]:
    """Await the jobs (coroutines not yet started) with at most `limit` of them at a time."""
    gate = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with gate:
            return await job

    return list(await asyncio.gather(*(one(job) for job in jobs)))


async def register(client: httpx.AsyncClient, label: str, index: int) -> User:
    email = f"bench-{label}-{index}-{uuid.uuid4().hex[:8]}@example.com"
    created = await client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, "name": f"{label}{index}"}
    )
    created.raise_for_status()
    login = await client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    login.raise_for_status()
    body = created.json()
    return User(
        index=index,
        user_id=str(body["user"]["id"]),
        wallet_id=str(body["wallet"]["id"]),
        headers={"Authorization": f"Bearer {login.json()['access_token']}"},
    )


async def fund(client: httpx.AsyncClient, user: User, amount: int) -> None:
    response = await client.post(
        f"/v1/wallets/{user.wallet_id}/top-ups",
        json={"amount": amount},
        headers={**user.headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": PREFER_WAIT},
    )
    response.raise_for_status()
    if response.json().get("status") != "completed":
        raise RuntimeError(f"top-up of {user.wallet_id} did not complete: {response.text}")


async def subscribe(client: httpx.AsyncClient, user: User, url: str) -> str:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": url, "event_types": ["*"], "description": "make bench"},
        headers=user.headers,
    )
    if response.status_code != 201:
        raise RuntimeError(f"webhook endpoint refused ({response.status_code}): {response.text}")
    return str(response.json()["id"])


async def total_balance(client: httpx.AsyncClient, users: Sequence[User]) -> int:
    async def balance(user: User) -> int:
        response = await client.get(f"/v1/wallets/{user.wallet_id}", headers=user.headers)
        response.raise_for_status()
        return int(response.json()["balance"])

    return sum(await gather_bounded(10, [balance(u) for u in users]))


# ---------------------------------------------------------------- transfers


@dataclass(frozen=True)
class Outcome:
    status: str
    """completed, failed, timeout (still not terminal when the wait ran out) or error."""
    transfer_id: str | None
    latency_s: float
    seen_at: float
    """time.monotonic() when the client had the answer (the Receiver's clock)."""
    error: str | None = None


Picker = Callable[[random.Random], tuple[User, User]]


def uniform(users: Sequence[User]) -> Picker:
    """Random distinct pairs."""

    def pick(rng: random.Random) -> tuple[User, User]:
        source, destination = rng.sample(list(users), 2)
        return source, destination

    return pick


def hot_sender(sender: User, receivers: Sequence[User]) -> Picker:
    """One sender paying random receivers."""

    def pick(rng: random.Random) -> tuple[User, User]:
        return sender, rng.choice(receivers)

    return pick


async def transfer(
    client: httpx.AsyncClient, source: User, destination: User, amount: int
) -> Outcome:
    started = time.monotonic()
    try:
        response = await client.post(
            "/v1/transfers",
            json={
                "source_wallet_id": source.wallet_id,
                "destination_wallet_id": destination.wallet_id,
                "amount": amount,
                "currency": CURRENCY,
            },
            headers={
                **source.headers,
                "Idempotency-Key": uuid.uuid4().hex,
                "Prefer": PREFER_WAIT,
            },
        )
    except httpx.HTTPError as exc:
        seen = time.monotonic()
        return Outcome("error", None, seen - started, seen, type(exc).__name__)
    seen = time.monotonic()
    if response.status_code not in (200, 202):
        return Outcome("error", None, seen - started, seen, f"HTTP {response.status_code}")
    body = response.json()
    status = str(body.get("status"))
    if response.status_code == 202 or status not in ("completed", "failed"):
        return Outcome("timeout", body.get("id"), seen - started, seen, f"not terminal ({status})")
    return Outcome(status, str(body["id"]), seen - started, seen)


class ProgressSink(Protocol):
    def start(self, label: str, total: int) -> None: ...
    def advance(self, ok: bool) -> None: ...
    def finish(self) -> None: ...


async def closed_loop(
    client: httpx.AsyncClient,
    pick: Picker,
    total: int,
    concurrency: int,
    rng: random.Random,
    progress: ProgressSink,
    label: str,
) -> tuple[list[Outcome], float]:
    """`concurrency` clients, each sending its next transfer once the last one answered, until
    `total` have been sent. Answers the outcomes and the wall time."""
    outcomes: list[Outcome] = []
    remaining = total

    async def client_loop() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            source, destination = pick(rng)
            outcome = await transfer(client, source, destination, rng.randint(1, 100))
            outcomes.append(outcome)
            progress.advance(outcome.status in ("completed", "failed"))

    progress.start(label, total)
    began = time.monotonic()
    try:
        await asyncio.gather(*(client_loop() for _ in range(max(1, min(concurrency, total)))))
    finally:
        progress.finish()
    return outcomes, time.monotonic() - began


# ---------------------------------------------------------------- webhooks


@dataclass
class WebhookTracker:
    """Reads what the Receiver got: when each `transfer.completed` delivery of a transfer arrived,
    and how many deliveries of any type mention each transfer."""

    receiver: Receiver
    completed_arrivals: dict[str, list[float]] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0
    _read: int = 0

    def poll(self) -> None:
        fresh = self.receiver.requests[self._read :]
        self._read += len(fresh)
        for request in fresh:
            try:
                payload = json.loads(request.body)
                transfer_id = str(payload["data"]["id"])
                kind = str(payload["type"])
            except (ValueError, KeyError, TypeError):
                self.unreadable += 1
                continue
            self.deliveries[transfer_id] = self.deliveries.get(transfer_id, 0) + 1
            if kind == "transfer.completed":
                self.completed_arrivals.setdefault(transfer_id, []).append(request.at)

    def missing(self, transfer_ids: Iterable[str], expected_each: int) -> int:
        self.poll()
        return sum(
            max(0, expected_each - len(self.completed_arrivals.get(t, ()))) for t in transfer_ids
        )

    async def drain(self, transfer_ids: Sequence[str], expected_each: int, timeout: float) -> int:
        """Wait until every `transfer.completed` delivery of these transfers has arrived (or the
        timeout); answers how many are still missing."""
        deadline = time.monotonic() + timeout
        missing = self.missing(transfer_ids, expected_each)
        while missing and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            missing = self.missing(transfer_ids, expected_each)
        return missing

    def latencies(self, seen_at: dict[str, float]) -> list[float]:
        """Arrival of each `transfer.completed` delivery minus when the client saw that transfer
        completed (negative when the webhook beat the answer to the POST)."""
        self.poll()
        return [
            arrival - seen
            for transfer_id, seen in seen_at.items()
            for arrival in self.completed_arrivals.get(transfer_id, ())
        ]

    def deliveries_of(self, transfer_ids: Iterable[str]) -> int:
        self.poll()
        return sum(self.deliveries.get(t, 0) for t in transfer_ids)


# ---------------------------------------------------------------- progress


class PlainProgress:
    """A `\\r` status line on stderr (or a line per 10 % when stderr is not a terminal)."""

    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._label = ""
        self._total = 0
        self._done = 0
        self._errors = 0
        self._began = 0.0
        self._last = 0.0
        self._last_decile = -1

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done, self._errors = label, total, 0, 0
        self._began = self._last = time.monotonic()
        self._last_decile = -1

    def advance(self, ok: bool) -> None:
        self._done += 1
        self._errors += 0 if ok else 1
        now = time.monotonic()
        if self._tty and (now - self._last >= 0.2 or self._done == self._total):
            self._last = now
            sys.stderr.write("\r" + self._line(now) + "  ")
            sys.stderr.flush()
        elif not self._tty:
            decile = self._done * 10 // max(1, self._total)
            if decile != self._last_decile:
                self._last_decile = decile
                sys.stderr.write(self._line(now) + "\n")

    def finish(self) -> None:
        if self._tty:
            sys.stderr.write("\r" + self._line(time.monotonic()) + "\n")
            sys.stderr.flush()

    def _line(self, now: float) -> str:
        elapsed = max(now - self._began, 1e-9)
        return (
            f"{self._label}: {self._done}/{self._total} "
            f"{self._done / elapsed:6.1f}/s  errors {self._errors}  {elapsed:5.1f} s"
        )


class RichProgress:
    """A rich progress bar on stderr (rich is in the workspace through import-linter)."""

    def __init__(self) -> None:
        from rich.console import Console

        self._console = Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._errors = 0
        self._done = 0
        self._began = 0.0

    def start(self, label: str, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._errors, self._done, self._began = 0, 0, time.monotonic()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>6.1f}/s  errors {task.fields[errors]}"),
            TimeElapsedColumn(),
            console=self._console,
        )
        self._progress.start()
        self._task = self._progress.add_task(label, total=total, rate=0.0, errors=0)

    def advance(self, ok: bool) -> None:
        if self._progress is None:
            return
        self._done += 1
        self._errors += 0 if ok else 1
        rate = self._done / max(time.monotonic() - self._began, 1e-9)
        self._progress.update(self._task, advance=1, rate=rate, errors=self._errors)

    def finish(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def make_progress() -> ProgressSink:
    if sys.stderr.isatty():
        with contextlib.suppress(ImportError):
            return RichProgress()
    return PlainProgress()
