"""The fault schedule of a chaos run: drawn from the seed alone, before anything starts.

Pure code: the same seed, duration, replica count and step timeout always give the same list of
faults (a test pins it), so a failing run can be replayed fault for fault. Times are seconds after
the traffic starts. Every fault ends (restart, resume, heal) before `quiet_after`, the moment
after which the run stops injecting and lets the system settle.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

KILL = "kill"
"""SIGKILL of one service replica, restarted after `hold` seconds."""
PAUSE = "pause"
"""SIGSTOP of one service replica for `hold` seconds (longer than the step deadline), SIGCONT."""
REDIS_CRASH = "redis-crash"
"""SIGKILL of the Redis server, restarted on the same port and data directory after `hold`."""
MONGO_CRASH = "mongo-crash"
"""SIGKILL of the MongoDB-protocol server, restarted on the same port and data after `hold`."""
RECEIVER_STALL = "receiver-stall"
"""A webhook receiver accepts requests and answers none of them for `hold` seconds."""
RECEIVER_ERROR = "receiver-error"
"""A webhook receiver answers every request with HTTP 500 for `hold` seconds."""
RECEIVER_SLOW = "receiver-slow"
"""A webhook receiver answers 200, but only after a delay, for `hold` seconds."""

FAULT_KINDS = (KILL, PAUSE, REDIS_CRASH, MONGO_CRASH, RECEIVER_STALL, RECEIVER_ERROR, RECEIVER_SLOW)
RECEIVER_FAULTS = (RECEIVER_STALL, RECEIVER_ERROR, RECEIVER_SLOW)

SERVICES = ("gateway", "orchestrator", "wallet", "ledger", "webhooks", "webhooks-worker")

RESTART_ALLOWANCE_S = 8.0
"""What the planner assumes a restarted process needs to be ready again: a replica is not
picked for another fault until its last one has ended and this much has passed."""


def replica_names(replicas: int, services: Sequence[str] = SERVICES) -> list[str]:
    """`wallet#1`, `wallet#2`, ...: every service replica of a run."""
    return [f"{service}#{n}" for service in services for n in range(1, replicas + 1)]


def service_of(replica: str) -> str:
    return replica.split("#", 1)[0]


@dataclass(frozen=True)
class Fault:
    at: float
    """Seconds after the traffic starts."""
    kind: str
    target: str
    """A replica (`wallet#2`), `redis`, `mongo`, or a receiver name (`flaky-1`)."""
    hold: float
    """Seconds the fault lasts: down before the restart, paused, or the receiver misbehaving."""

    @property
    def ends(self) -> float:
        return self.at + self.hold

    def describe(self) -> str:
        verbs = {
            KILL: "kill -9, restart after",
            PAUSE: "SIGSTOP, SIGCONT after",
            REDIS_CRASH: "kill -9, restart after",
            MONGO_CRASH: "kill -9, restart after",
            RECEIVER_STALL: "answers nothing for",
            RECEIVER_ERROR: "answers 500 for",
            RECEIVER_SLOW: "answers slowly for",
        }
        return f"t={self.at:7.2f}s  {self.kind:<14} {self.target:<18} {verbs[self.kind]} {self.hold:.2f}s"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """How many faults of each kind a run of `duration` seconds gets, and where they may fall."""

    duration: float
    replicas: int
    step_timeout_s: float
    receivers: tuple[str, ...]

    @property
    def starts_after(self) -> float:
        return min(5.0, self.duration * 0.05)

    @property
    def quiet_after(self) -> float:
        """Every fault has ended by then (a little before the traffic stops)."""
        return self.duration - min(5.0, self.duration * 0.05)

    def counts(self) -> dict[str, int]:
        d = self.duration
        return {
            KILL: max(6, round(d / 4.5)),
            PAUSE: max(1, round(d / 40)),
            REDIS_CRASH: max(1, round(d / 75)),
            MONGO_CRASH: max(1, round(d / 75)),
            "receiver": max(2, round(d / 25)) if self.receivers else 0,
        }


def fault_schedule(plan: Plan, seed: int) -> list[Fault]:
    """The run's faults, sorted by time. Store crashes take turns in evenly spaced slots, so two
    never overlap; a replica or receiver gets a new fault only once its last one is over."""
    rng = random.Random(seed)
    counts = plan.counts()
    start, end = plan.starts_after, plan.quiet_after
    faults: list[Fault] = []

    # Store crashes: one per slot, kinds in a seeded order, each well inside its slot.
    stores = [REDIS_CRASH] * counts[REDIS_CRASH] + [MONGO_CRASH] * counts[MONGO_CRASH]
    rng.shuffle(stores)
    slot = (end - start) / len(stores)
    for index, kind in enumerate(stores):
        hold = round(rng.uniform(0.5, 2.0), 2)
        at = start + index * slot + rng.uniform(0.15, 0.55) * slot
        at = min(at, start + (index + 1) * slot - hold - 0.5)
        faults.append(Fault(round(at, 2), kind, "redis" if kind == REDIS_CRASH else "mongo", hold))

    # Replica kills and pauses, at uniform times, each on a replica that is free by then.
    replicas = replica_names(plan.replicas)
    busy_until = dict.fromkeys(replicas, 0.0)
    process_faults = [KILL] * counts[KILL] + [PAUSE] * counts[PAUSE]
    rng.shuffle(process_faults)
    times = sorted(rng.uniform(start, end - 4.0) for _ in process_faults)
    for at, kind in zip(times, process_faults, strict=True):
        if kind == KILL:
            hold = rng.uniform(0.3, 3.0)
        else:
            hold = rng.uniform(1.5, 3.0) * plan.step_timeout_s
        hold = round(min(hold, end - at), 2)
        free = [r for r in replicas if busy_until[r] <= at]
        target = rng.choice(free or replicas)
        busy_until[target] = at + hold + RESTART_ALLOWANCE_S
        faults.append(Fault(round(at, 2), kind, target, hold))

    # Receiver faults: one at a time per receiver.
    receiver_busy = dict.fromkeys(plan.receivers, 0.0)
    for at in sorted(rng.uniform(start, end - 3.0) for _ in range(counts["receiver"])):
        kind = rng.choice(RECEIVER_FAULTS)
        hold = round(min(rng.uniform(3.0, 10.0), end - at), 2)
        free = [r for r in plan.receivers if receiver_busy[r] <= at]
        if not free:
            continue
        target = rng.choice(free)
        receiver_busy[target] = at + hold + 1.0
        faults.append(Fault(round(at, 2), kind, target, hold))

    return sorted(faults, key=lambda f: (f.at, f.kind, f.target))


def count_by_kind(faults: Sequence[Fault]) -> dict[str, int]:
    counted = dict.fromkeys(FAULT_KINDS, 0)
    for fault in faults:
        counted[fault.kind] += 1
    return counted
