"""The retry schedule: configured waits, jitter that never shortens them, and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payflow_webhooks.domain.retry_policy import RetryPolicy, parse_retry_after
from payflow_webhooks.settings import DEFAULT_RETRY_SCHEDULE

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_the_default_schedule_gives_ten_attempts_over_about_three_days() -> None:
    policy = RetryPolicy.from_schedule(DEFAULT_RETRY_SCHEDULE, jitter=0)
    assert policy.max_attempts == 10
    assert policy.delay_after(1, 0.5) == timedelta(seconds=5)
    assert policy.delay_after(9, 0.5) == timedelta(days=1)
    assert policy.delay_after(10, 0.5) is None
    assert timedelta(days=3) < policy.span() < timedelta(days=4)


def test_jitter_stretches_a_wait_by_at_most_its_fraction() -> None:
    policy = RetryPolicy.from_schedule("10,20", jitter=0.1)
    assert policy.delay_after(1, 0.0) == timedelta(seconds=10)
    assert policy.delay_after(1, 0.999) == timedelta(seconds=10) * (1 + 0.1 * 0.999)
    assert policy.delay_after(2, 0.5) == timedelta(seconds=21)


def test_an_empty_schedule_means_one_attempt() -> None:
    policy = RetryPolicy.from_schedule("")
    assert policy.max_attempts == 1
    assert policy.delay_after(1, 0.0) is None


@pytest.mark.parametrize("schedule", ["5,x", "-1", "nan", "5,,-3"])
def test_a_schedule_with_a_bad_entry_is_refused(schedule: str) -> None:
    with pytest.raises(ValueError, match="retry schedule"):
        RetryPolicy.from_schedule(schedule)


def test_retry_after_is_read_as_seconds_or_as_an_http_date() -> None:
    assert parse_retry_after("120", NOW) == timedelta(seconds=120)
    assert parse_retry_after("Sun, 01 Mar 2026 12:00:30 GMT", NOW) == timedelta(seconds=30)
    assert parse_retry_after("Sun, 01 Mar 2026 11:00:00 GMT", NOW) == timedelta(0)
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


def test_a_huge_retry_after_is_bounded_by_the_longest_scheduled_wait() -> None:
    policy = RetryPolicy.from_schedule("5,60")
    assert policy.honour_retry_after(timedelta(days=30)) == timedelta(seconds=60)
    assert policy.honour_retry_after(timedelta(seconds=7)) == timedelta(seconds=7)
