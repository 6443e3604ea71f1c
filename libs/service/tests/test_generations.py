"""Memos validated by Redis generation counters: a bump forgets on every replica, and a lost
bump (Redis down between a write and its bump, or restarted from an older state) leaves a replica
stale for at most `max_age_s`, never until the next change."""

from __future__ import annotations

from typing import Any

from payflow_service.generations import GenerationMemo, KeyedGenerationMemo


class CounterStore:
    """The two Redis commands a memo uses, on a dict."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    async def get(self, key: str) -> bytes | None:
        value = self.values.get(key)
        return None if value is None else str(value).encode()

    async def incr(self, key: str) -> int:
        self.values[key] = self.values.get(key, 0) + 1
        return self.values[key]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """What the memo remembers, with a count of the loads."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.loads = 0

    async def load(self) -> str:
        self.loads += 1
        return self.value


async def test_a_bump_makes_every_replica_load_again() -> None:
    redis, clock, source = CounterStore(), Clock(), Source("v1")
    replicas: list[GenerationMemo[str, Any]] = [
        GenerationMemo(redis, "gen", clock=clock) for _ in range(2)
    ]
    assert [await m.get("k", source.load) for m in replicas] == ["v1", "v1"]
    assert [await m.get("k", source.load) for m in replicas] == ["v1", "v1"]
    assert source.loads == 2
    source.value = "v2"
    await replicas[0].bump()
    assert [await m.get("k", source.load) for m in replicas] == ["v2", "v2"]


async def test_a_lost_bump_is_forgotten_after_max_age() -> None:
    redis, clock, source = CounterStore(), Clock(), Source("v1")
    memo: GenerationMemo[str, Any] = GenerationMemo(redis, "gen", max_age_s=30, clock=clock)
    assert await memo.get("k", source.load) == "v1"
    source.value = "v2"  # stored, but the bump never reached Redis
    clock.now += 29
    assert await memo.get("k", source.load) == "v1"
    clock.now += 2
    assert await memo.get("k", source.load) == "v2"


async def test_a_keyed_lost_bump_is_forgotten_after_max_age() -> None:
    redis, clock, source = CounterStore(), Clock(), Source("alice")
    memo: KeyedGenerationMemo[str] = KeyedGenerationMemo(redis, "user", max_age_s=30, clock=clock)
    assert await memo.get("usr_1", source.load) == "alice"
    source.value = "alice (admin)"
    clock.now += 29
    assert await memo.get("usr_1", source.load) == "alice"
    clock.now += 2
    assert await memo.get("usr_1", source.load) == "alice (admin)"
    await memo.bump("usr_1")
    source.value = "alice (removed)"
    assert await memo.get("usr_1", source.load) == "alice (removed)"
