"""Runs a money-moving request at most once per (user, Idempotency-Key)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from payflow_gateway.domain.errors import IdempotencyKeyReused, KeyProblem
from payflow_gateway.domain.idempotency import (
    Claimed,
    InProgress,
    Mismatch,
    Replay,
    check_key,
    fingerprint,
    record_id,
)
from payflow_gateway.ports import IdempotencyStore
from payflow_service import ProblemError

IDEMPOTENT_REPLAYS = Counter(
    "payflow_idempotent_replays_total", "Requests answered from a stored idempotent response"
)

KEY_TTL = timedelta(hours=24)

Work = Callable[[], Awaitable[tuple[int, dict[str, Any]]]]


class IdempotentRequests:
    """Money-moving requests, each run once per (user, Idempotency-Key): a retry with the same
    key and body is answered what the first request was (`Idempotent-Replayed: true`).
    `lock_for`: how long a request holds its key before a retry may take over."""

    def __init__(self, store: IdempotencyStore, lock_for: timedelta) -> None:
        self._store = store
        self._lock_for = lock_for

    async def run(self, request: Request, user_id: str, body: Any, work: Work) -> JSONResponse:
        return await run_idempotently(request, self._store, self._lock_for, user_id, body, work)


async def run_idempotently(
    request: Request,
    store: IdempotencyStore,
    lock_for: timedelta,
    user_id: str,
    body: Any,
    work: Work,
) -> JSONResponse:
    try:
        key = check_key(request.headers.get("idempotency-key"))
    except KeyProblem as problem:
        raise ProblemError(400, problem.code, problem.detail) from None
    rid = record_id(user_id, key)
    claim = await store.claim(
        rid,
        fingerprint(request.method, request.url.path, body),
        datetime.now(UTC),
        lock_for,
        KEY_TTL,
    )
    if isinstance(claim, Mismatch):
        raise IdempotencyKeyReused(rid)
    if isinstance(claim, InProgress):
        raise ProblemError(
            409,
            "idempotency_key_in_use",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": "1"},
        )
    if isinstance(claim, Replay):
        IDEMPOTENT_REPLAYS.inc()
        return JSONResponse(
            claim.body, status_code=claim.status, headers={"Idempotent-Replayed": "true"}
        )
    assert isinstance(claim, Claimed)
    try:
        status, answer = await work()
    except BaseException:
        # Nothing is stored for a request that did not finish: pre-check failures may be fixed
        # and retried with the same key, and after a downstream failure a retry is safe because
        # the orchestrator itself keeps one transfer per (user, key).
        await store.release(rid, claim.token)
        raise
    await store.complete(rid, claim.token, status, answer)
    return JSONResponse(answer, status_code=status)
