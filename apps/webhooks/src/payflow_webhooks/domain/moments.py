"""Timestamps as the stores keep them (UTC, millisecond precision) and as the API shows them."""

from __future__ import annotations

from datetime import UTC, datetime


def to_millis(moment: datetime) -> datetime:
    """MongoDB keeps milliseconds: round here so a value reads back exactly as it was written."""
    moment = moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    return to_millis(datetime.now(UTC))


def rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
