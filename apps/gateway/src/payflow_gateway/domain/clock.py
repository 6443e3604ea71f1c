"""Timestamps as stored: UTC, cut to the millisecond, because MongoDB keeps no finer grain and a
resource must read the same in the answer that created it and in every later one."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
