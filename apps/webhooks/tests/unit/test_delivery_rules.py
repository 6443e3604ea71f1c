"""How each attempt settles a delivery: success, retries on the schedule, failure, disabling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from payflow_webhooks.domain.delivery import (
    AttemptResult,
    DeliveryStatus,
    EndpointChange,
    open_delivery,
    replay,
    settle_attempt,
)
from payflow_webhooks.domain.retry_policy import RetryPolicy

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy.from_schedule("1,2", jitter=0.1)
FIVE_DAYS = timedelta(days=5)


def a_delivery():  # type: ignore[no-untyped-def]
    return open_delivery(
        delivery_id="del_1",
        event_id="evt_1",
        event_type="transfer.completed",
        endpoint_id="we_1",
        owner_id="usr_a",
        event_created_at=T0,
        traceparent=None,
        now=T0,
    )


def answered(status: int | None, at: datetime = T0, **extra: object) -> AttemptResult:
    return AttemptResult(at=at, status_code=status, duration_ms=12, **extra)  # type: ignore[arg-type]


def settle(delivery, result, failing_since=None):  # type: ignore[no-untyped-def]
    return settle_attempt(
        delivery,
        result,
        POLICY,
        failing_since=failing_since,
        disable_after=FIVE_DAYS,
        spread=0.5,
    )


def test_a_2xx_answer_settles_the_delivery_as_succeeded() -> None:
    verdict = settle(a_delivery(), answered(204))
    assert verdict.outcome == "succeeded"
    assert verdict.delivery.status is DeliveryStatus.SUCCEEDED
    assert verdict.delivery.next_attempt_at is None and verdict.retry_in is None
    assert verdict.endpoint_change is EndpointChange.CLEAR_FAILING
    assert verdict.delivery.attempt_count == 1 and verdict.delivery.version == 1


def test_failures_are_retried_on_the_schedule_then_the_delivery_fails() -> None:
    first = settle(a_delivery(), answered(500))
    assert first.outcome == "retrying"
    assert first.retry_in == timedelta(seconds=1.05)
    assert first.delivery.next_attempt_at == T0 + timedelta(seconds=1.05)
    second = settle(first.delivery, answered(None, error="ConnectError: refused"))
    assert second.retry_in == timedelta(seconds=2.1)
    assert second.delivery.last_error == "ConnectError: refused"
    third = settle(second.delivery, answered(502))
    assert third.outcome == "failed" and third.retry_in is None
    assert third.delivery.status is DeliveryStatus.FAILED
    assert third.delivery.attempt_count == 3
    assert third.endpoint_change is EndpointChange.MARK_FAILING


def test_a_410_answer_fails_the_delivery_and_disables_the_endpoint() -> None:
    verdict = settle(a_delivery(), answered(410))
    assert verdict.outcome == "disabled"
    assert verdict.delivery.status is DeliveryStatus.FAILED
    assert verdict.endpoint_change is EndpointChange.DISABLE_GONE


def test_429_and_503_wait_for_retry_after_instead_of_the_schedule() -> None:
    for status in (429, 503):
        verdict = settle(a_delivery(), answered(status, retry_after=timedelta(seconds=2)))
        assert verdict.retry_in == timedelta(seconds=2)
    ignored = settle(a_delivery(), answered(500, retry_after=timedelta(seconds=2)))
    assert ignored.retry_in == timedelta(seconds=1.05)


def test_an_endpoint_failing_for_longer_than_the_limit_is_disabled() -> None:
    later = T0 + FIVE_DAYS
    verdict = settle(a_delivery(), answered(500, at=later), failing_since=T0)
    assert verdict.outcome == "disabled"
    assert verdict.endpoint_change is EndpointChange.DISABLE_FAILING_TOO_LONG
    still_young = settle(a_delivery(), answered(500, at=later), failing_since=T0 + timedelta(1))
    assert still_young.outcome == "retrying"


def test_a_replay_of_a_failed_delivery_starts_a_fresh_round_now() -> None:
    failed = a_delivery()
    for status in (500, 500, 500):
        failed = settle(failed, answered(status)).delivery
    assert failed.status is DeliveryStatus.FAILED
    again = replay(failed, T0 + timedelta(hours=1))
    assert again.status is DeliveryStatus.PENDING
    assert again.round_failures == 0 and again.attempt_count == 3
    assert again.next_attempt_at == T0 + timedelta(hours=1)
    assert settle(again, answered(500)).outcome == "retrying"


def test_attempt_results_are_labelled_for_the_metric() -> None:
    assert answered(200).label == "success"
    assert answered(404).label == "http_4xx"
    assert answered(503).label == "http_5xx"
    assert answered(301).label == "http_3xx"
    assert answered(None, timed_out=True).label == "timeout"
    assert answered(None, blocked=True).label == "blocked"
    assert answered(None, error="reset").label == "network_error"
