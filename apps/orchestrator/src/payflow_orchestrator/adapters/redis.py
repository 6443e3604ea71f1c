"""The orchestrator's Redis adapters: the live channel the gateway's SSE reads, and the cache of
sandbox fault rules that replicas share through a generation counter."""

from __future__ import annotations

from redis.asyncio import Redis

from payflow_contracts.streams import StreamNames
from payflow_contracts.transfers import TransferPublic
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.ports import FaultRuleStore
from payflow_service.generations import GenerationMemo


class RedisLiveFeed:
    """Live state changes on Redis Pub/Sub, read by the gateway's SSE endpoint."""

    def __init__(self, redis: Redis, streams: StreamNames) -> None:
        self._redis = redis
        self._streams = streams

    async def announce(self, transfer_id: str, view: TransferPublic) -> None:
        await self._redis.publish(
            self._streams.transfer_channel(transfer_id), view.model_dump_json()
        )


class CachedFaultRuleStore:
    """Answers `for_owner` from memory while no replica has changed any rule (see
    `payflow_service.generations`): one Redis command per transfer instead of a store query."""

    def __init__(
        self, inner: FaultRuleStore, redis: Redis, generation_key: str, max_age_s: float = 30.0
    ) -> None:
        self._inner = inner
        self._memo: GenerationMemo[str, list[FaultRule]] = GenerationMemo(
            redis, generation_key, max_age_s=max_age_s
        )

    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        await self._inner.add(rule, cap)
        await self._memo.bump()

    async def remove(self, owner_id: str, rule_id: str) -> bool:
        removed = await self._inner.remove(owner_id, rule_id)
        await self._memo.bump()
        return removed

    async def for_owner(self, owner_id: str) -> list[FaultRule]:
        rules = await self._memo.get(owner_id, lambda: self._inner.for_owner(owner_id))
        return list(rules)
