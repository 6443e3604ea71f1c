"""A delivery of one event to one endpoint, and the pure rules that settle each attempt.

The worker sends, then asks `settle_attempt` what the attempt means: success, a retry after some
delay, a final failure, or an endpoint to disable. The delivery record, not the ARQ job, is the
source of truth; it is written with a compare-and-set on `version`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from payflow_contracts.paging import PagePosition
from payflow_webhooks.domain.retry_policy import RetryPolicy

RESPONSE_BODY_LIMIT = 1024
"""Bytes of a receiver's answer kept with each attempt."""


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


DeliveryOutcome = Literal["succeeded", "failed", "retrying", "disabled"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    id: str
    event_id: str
    event_type: str
    endpoint_id: str
    owner_id: str
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempt_count: int = 0
    """Attempts recorded over the delivery's whole life (replays included)."""
    round_failures: int = 0
    """Failed attempts since the delivery was created or last replayed: the schedule position."""
    next_attempt_at: datetime | None
    last_error: str | None = None
    event_created_at: datetime
    traceparent: str | None = None
    """The trace the delivery belongs to; a re-enqueued job carries it again."""
    created_at: datetime
    updated_at: datetime
    succeeded_at: datetime | None = None
    version: int = 0
    body: str | None = None
    """The signed body, fixed when the delivery is opened: an attempt sends it without reading
    the event again (None on deliveries opened before it was kept here)."""

    @property
    def position(self) -> PagePosition:
        """Where the delivery stands in its endpoint's newest-first list."""
        return PagePosition(self.created_at, self.id)

    @property
    def is_pending(self) -> bool:
        return self.status is DeliveryStatus.PENDING


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """One HTTP attempt, stored as its own record (never pushed into the delivery)."""

    id: str
    delivery_id: str
    number: int
    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None = None


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt gave, before any decision."""

    at: datetime
    status_code: int | None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None
    retry_after: timedelta | None = None
    blocked: bool = False
    """The SSRF guard refused the address: nothing was sent."""
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        return self.status_code == 410

    @property
    def label(self) -> str:
        """The `result` label of the attempts metric."""
        if self.blocked:
            return "blocked"
        if self.timed_out:
            return "timeout"
        if self.status_code is None:
            return "network_error"
        if self.succeeded:
            return "success"
        return f"http_{self.status_code // 100}xx"


class EndpointChange(StrEnum):
    NONE = "none"
    MARK_FAILING = "mark_failing"
    CLEAR_FAILING = "clear_failing"
    DISABLE_GONE = "disable_gone"
    DISABLE_FAILING_TOO_LONG = "disable_failing_too_long"


@dataclass(frozen=True)
class AttemptVerdict:
    delivery: Delivery
    outcome: DeliveryOutcome
    endpoint_change: EndpointChange
    retry_in: timedelta | None = None


def open_delivery(
    *,
    delivery_id: str,
    event_id: str,
    event_type: str,
    endpoint_id: str,
    owner_id: str,
    event_created_at: datetime,
    traceparent: str | None,
    now: datetime,
    body: str | None = None,
) -> Delivery:
    return Delivery(
        id=delivery_id,
        event_id=event_id,
        event_type=event_type,
        endpoint_id=endpoint_id,
        owner_id=owner_id,
        next_attempt_at=now,
        event_created_at=event_created_at,
        traceparent=traceparent,
        created_at=now,
        updated_at=now,
        body=body,
    )


_MOMENTS = ("next_attempt_at", "event_created_at", "created_at", "updated_at", "succeeded_at")


def snapshot(delivery: Delivery) -> dict[str, Any]:
    """The delivery as plain JSON values, carried by its job so that the job's first run needs
    no read of the store (see `WebhookCourier.attempt`)."""
    data: dict[str, Any] = {f.name: getattr(delivery, f.name) for f in fields(Delivery)}
    data["status"] = delivery.status.value
    for name in _MOMENTS:
        moment = data[name]
        data[name] = None if moment is None else moment.isoformat()
    return data


def from_snapshot(data: dict[str, Any]) -> Delivery:
    """The delivery a `snapshot` was made of; ValueError (or KeyError, TypeError) for anything
    else."""
    values = dict(data)
    values["status"] = DeliveryStatus(values["status"])
    for name in _MOMENTS:
        moment = values.get(name)
        values[name] = None if moment is None else datetime.fromisoformat(moment)
    return Delivery(**values)


def describe_failure(result: AttemptResult) -> str:
    if result.error:
        return result.error
    return f"the receiver answered HTTP {result.status_code}"


def settle_attempt(
    delivery: Delivery,
    result: AttemptResult,
    policy: RetryPolicy,
    *,
    failing_since: datetime | None,
    disable_after: timedelta,
    spread: float,
) -> AttemptVerdict:
    """What an attempt means for the delivery and its endpoint.

    2xx succeeds. 410 fails the delivery and disables the endpoint. An endpoint already failing
    for `disable_after` is disabled. Anything else is retried on the schedule (429/503 wait for
    `Retry-After` when given) until the schedule is spent, then the delivery fails.
    """
    now = result.at
    attempt_count = delivery.attempt_count + 1
    version = delivery.version + 1
    if result.succeeded:
        done = replace(
            delivery,
            attempt_count=attempt_count,
            updated_at=now,
            version=version,
            status=DeliveryStatus.SUCCEEDED,
            next_attempt_at=None,
            last_error=None,
            succeeded_at=now,
        )
        return AttemptVerdict(done, "succeeded", EndpointChange.CLEAR_FAILING)
    error = describe_failure(result)

    def failed(last_error: str, round_failures: int = delivery.round_failures) -> Delivery:
        return replace(
            delivery,
            attempt_count=attempt_count,
            updated_at=now,
            version=version,
            status=DeliveryStatus.FAILED,
            next_attempt_at=None,
            round_failures=round_failures,
            last_error=last_error,
        )

    if result.gone:
        gone = failed(f"{error}: endpoint disabled")
        return AttemptVerdict(gone, "disabled", EndpointChange.DISABLE_GONE)
    if should_disable(failing_since, now, disable_after):
        stale = failed(f"{error}: endpoint failing for too long")
        return AttemptVerdict(stale, "disabled", EndpointChange.DISABLE_FAILING_TOO_LONG)
    failures = delivery.round_failures + 1
    delay = policy.delay_after(failures, spread)
    if delay is None:
        spent = failed(error, round_failures=failures)
        return AttemptVerdict(spent, "failed", EndpointChange.MARK_FAILING)
    if result.retry_after is not None and result.status_code in (429, 503):
        delay = policy.honour_retry_after(result.retry_after)
    retrying = replace(
        delivery,
        attempt_count=attempt_count,
        updated_at=now,
        version=version,
        round_failures=failures,
        next_attempt_at=now + delay,
        last_error=error,
    )
    return AttemptVerdict(retrying, "retrying", EndpointChange.MARK_FAILING, retry_in=delay)


def should_disable(failing_since: datetime | None, now: datetime, disable_after: timedelta) -> bool:
    return failing_since is not None and now - failing_since >= disable_after


def abandon_for_endpoint(delivery: Delivery, now: datetime, reason: str) -> Delivery:
    """The endpoint is disabled or deleted: the delivery fails without an attempt."""
    return replace(
        delivery,
        status=DeliveryStatus.FAILED,
        next_attempt_at=None,
        last_error=reason,
        updated_at=now,
        version=delivery.version + 1,
    )


def replay(delivery: Delivery, now: datetime) -> Delivery:
    """Send again now, whatever the status, with a fresh round of the retry schedule."""
    return replace(
        delivery,
        status=DeliveryStatus.PENDING,
        round_failures=0,
        next_attempt_at=now,
        succeeded_at=None,
        updated_at=now,
        version=delivery.version + 1,
    )
