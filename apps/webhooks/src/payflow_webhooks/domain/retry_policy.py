"""When to try a failed delivery again: the configured schedule, jitter, and `Retry-After`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """`delays[i]` is the wait after the (i+1)-th failed attempt of a round."""

    delays: tuple[timedelta, ...]
    jitter: float = 0.1

    @classmethod
    def from_schedule(cls, schedule: str, jitter: float = 0.1) -> RetryPolicy:
        """Parse `"5,300,1800"` (seconds). An empty schedule means a single attempt."""
        parts = [p.strip() for p in schedule.split(",") if p.strip()]
        delays: list[timedelta] = []
        for part in parts:
            try:
                seconds = float(part)
            except ValueError:
                raise ValueError(f"retry schedule entry {part!r} is not a number") from None
            if seconds < 0 or seconds != seconds:  # NaN is not equal to itself
                raise ValueError(f"retry schedule entry {part!r} must be zero or more")
            delays.append(timedelta(seconds=seconds))
        if not 0 <= jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        return cls(tuple(delays), jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    @property
    def longest_delay(self) -> timedelta:
        return max(self.delays, default=timedelta(0))

    def span(self) -> timedelta:
        """The longest a whole round of attempts can wait in total, jitter included."""
        return sum(self.delays, timedelta(0)) * (1 + self.jitter)

    def delay_after(self, failed_attempts: int, spread: float) -> timedelta | None:
        """The wait after `failed_attempts` failures in this round, or None once they are spent.

        `spread` in [0, 1) picks the jitter; the wait is never shorter than the schedule says.
        """
        if failed_attempts < 1 or failed_attempts > len(self.delays):
            return None
        return self.delays[failed_attempts - 1] * (1 + self.jitter * spread)

    def honour_retry_after(self, asked: timedelta) -> timedelta:
        """A receiver's `Retry-After`, bounded so one answer cannot park a delivery for ever."""
        return min(max(asked, timedelta(0)), max(self.longest_delay, timedelta(seconds=1)))


def parse_retry_after(value: str | None, now: datetime) -> timedelta | None:
    """`Retry-After` as delay-seconds or an HTTP date (RFC 9110 10.2.3); None when unusable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return timedelta(seconds=int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when - now, timedelta(0))
