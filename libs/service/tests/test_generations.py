"""Remembered items against a real Redis: fresh until a change is bumped, or until they are old."""

from __future__ import annotations

from typing import Any

import pytest

from payflow_service.generations import GenerationMemo, KeyedGenerationMemo

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """The store behind the memo: counts its loads."""

    def __init__(self) -> None:
        self.value = "v1"
        self.loads = 0

    async def load(self) -> str:
        self.loads += 1
        return self.value


async def test_a_remembered_item_is_served_until_a_change_is_bumped(
    redis_client: Any, unique: str
) -> None:
    source, clock = Source(), Clock()
    memo: GenerationMemo[str, str] = GenerationMemo(redis_client, f"t{unique}:gen", clock=clock)
    other: GenerationMemo[str, str] = GenerationMemo(redis_client, f"t{unique}:gen", clock=clock)
    assert await memo.get("k", source.load) == "v1"
    assert await memo.get("k", source.load) == "v1"
    assert source.loads == 1
    source.value = "v2"
    await other.bump()  # another replica changed it
    assert await memo.get("k", source.load) == "v2"
    assert source.loads == 2


async def test_a_remembered_item_is_loaded_again_once_old_even_without_a_bump(
    redis_client: Any, unique: str
) -> None:
    # A Redis that lost its last bump in a crash cannot leave a replica stale for longer.
    source, clock = Source(), Clock()
    memo: GenerationMemo[str, str] = GenerationMemo(
        redis_client, f"t{unique}:gen", max_age_s=30, clock=clock
    )
    keyed: KeyedGenerationMemo[str] = KeyedGenerationMemo(
        redis_client, f"t{unique}:item", max_age_s=30, clock=clock
    )
    await memo.get("k", source.load)
    await keyed.get("usr_1", source.load)
    source.value = "v2"
    clock.now += 29
    assert await memo.get("k", source.load) == "v1"
    assert await keyed.get("usr_1", source.load) == "v1"
    clock.now += 2
    assert await memo.get("k", source.load) == "v2"
    assert await keyed.get("usr_1", source.load) == "v2"


async def test_one_item_bumped_forgets_that_item_only(redis_client: Any, unique: str) -> None:
    source, clock = Source(), Clock()
    keyed: KeyedGenerationMemo[str] = KeyedGenerationMemo(
        redis_client, f"t{unique}:item", clock=clock
    )
    await keyed.get("usr_1", source.load)
    await keyed.get("usr_2", source.load)
    await keyed.bump("usr_1")
    await keyed.get("usr_1", source.load)
    await keyed.get("usr_2", source.load)
    assert source.loads == 3
