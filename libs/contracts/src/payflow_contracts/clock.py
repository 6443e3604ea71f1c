"""The one wall clock of every PayFlow process: now, in UTC, at the millisecond MongoDB keeps.

Stores round datetimes to milliseconds; a value kept at that precision from the start reads back
equal, so cursors and compare-and-set guards compare exactly. Code that decides on time takes a
`Clock` (this function, or a fixed one in tests); only composition roots call it directly.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def to_millis(moment: datetime) -> datetime:
    """`moment` truncated to the millisecond (the precision MongoDB stores)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utc_now() -> datetime:
    """Now, in UTC, truncated to the millisecond."""
    return to_millis(datetime.now(UTC))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def epoch_millis(moment: datetime) -> int:
    """`moment` as whole milliseconds since the Unix epoch (floored, exact: no float)."""
    return (moment - _EPOCH) // _MILLISECOND


def from_epoch_millis(millis: int) -> datetime:
    return _EPOCH + millis * _MILLISECOND
