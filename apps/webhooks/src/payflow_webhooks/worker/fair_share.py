"""A fair share of the worker's slots: no endpoint, and no owner, holds more than its share.

ARQ runs at most `PAYFLOW_WEBHOOK_WORKER_MAX_JOBS` jobs at once, and a job holds its slot for as
long as the receiver takes to answer (up to the HTTP timeout). Without a cap, one owner's slow
endpoint with a backlog would hold every slot and every other endpoint's deliveries would wait
behind it. So a job whose endpoint (or owner) already has its share of sends in flight in this
process does not wait for one: it gives its slot back at once and runs again a moment later
(`busy_defer`), which lets the jobs of other endpoints through. The counts are this process's:
with several workers, an endpoint may have one share in flight in each.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

BUSY_DEFER = timedelta(seconds=1)
"""How long a job of a busy endpoint waits before it looks again (stretched by 0.5 to 1.5)."""


@dataclass
class FairShare:
    per_endpoint: int
    per_owner: int
    _endpoints: Counter[str] = field(default_factory=Counter)
    _owners: Counter[str] = field(default_factory=Counter)

    def try_take(self, endpoint_id: str, owner_id: str) -> bool:
        """Counts one send in flight for the endpoint and its owner, if both are under their
        share; False (nothing counted) otherwise."""
        if self._endpoints[endpoint_id] >= self.per_endpoint:
            return False
        if self._owners[owner_id] >= self.per_owner:
            return False
        self._endpoints[endpoint_id] += 1
        self._owners[owner_id] += 1
        return True

    def give_back(self, endpoint_id: str, owner_id: str) -> None:
        for counts, key in ((self._endpoints, endpoint_id), (self._owners, owner_id)):
            counts[key] -= 1
            if counts[key] <= 0:
                del counts[key]

    def in_flight(self, endpoint_id: str) -> int:
        return self._endpoints[endpoint_id]


def busy_defer(spread: float) -> timedelta:
    """`spread` in [0, 1): the wait of a job that found its endpoint busy."""
    return BUSY_DEFER * (0.5 + spread)
