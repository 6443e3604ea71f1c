"""The suite's clock: the real one, at the millisecond precision MongoDB stores.

Tests that write to a real store take their times from here (the `now` fixture of
`payflow_testing.plugin`), never from a pinned calendar date: records carry `expires_at`,
`keep_until` and token expiries under real TTL indexes, and the store expires them against the
wall clock. A date that lies in the past once the calendar passes it makes those records expire
the moment they are written.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now_ms() -> datetime:
    """Now, in UTC, truncated to the millisecond, so a datetime read back from MongoDB is equal to
    the one written."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
