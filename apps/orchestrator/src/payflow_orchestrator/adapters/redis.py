"""Sandbox fault rules per user: a protocol, its MongoDB adapter and an in-memory twin."""

from __future__ import annotations

from typing import Any, Protocol

from beanie import Document
from pymongo import ASCENDING, IndexModel

from payflow_orchestrator.domain.faults import FaultRule
from payflow_service.generations import GenerationMemo
from payflow_service.quotas import (
    SLOT_FIELD,
    QuotaExceeded,
    insert_within_quota,
    quota_slot_index,
)


class FaultRuleStore(Protocol):
    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        """Store a rule; with `cap`, refuse with `QuotaExceeded` when its owner holds `cap`
        rules already (exactly, however many are added at once)."""
        ...

    async def for_owner(self, owner_id: str) -> list[FaultRule]: ...
    async def remove(self, owner_id: str, rule_id: str) -> bool: ...


class FaultRuleDocument(Document):
    class Settings:
        name = "fault_rules"
        indexes = [
            IndexModel([("owner_id", ASCENDING)], name="by_owner"),
            quota_slot_index("owner_id"),
        ]


class MongoFaultRuleStore:
    def __init__(self, collection: Any) -> None:
        self._collection = collection

    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        data = rule.model_dump()
        data["_id"] = data.pop("id")
        if cap is None:
            await self._collection.insert_one(data)
            return

        async def insert(slot: int) -> None:
            await self._collection.insert_one({**data, SLOT_FIELD: slot})

        await insert_within_quota(self._collection, {"owner_id": rule.owner_id}, cap, insert)

    async def for_owner(self, owner_id: str) -> list[FaultRule]:
        found = self._collection.find({"owner_id": owner_id}, {SLOT_FIELD: 0}).sort(
            [("_id", ASCENDING)]
        )
        return [FaultRule.model_validate({**d, "id": d.pop("_id")}) async for d in found]

    async def remove(self, owner_id: str, rule_id: str) -> bool:
        result = await self._collection.delete_one({"_id": rule_id, "owner_id": owner_id})
        return bool(result.deleted_count == 1)


class InMemoryFaultRuleStore:
    def __init__(self) -> None:
        self._rules: dict[str, FaultRule] = {}

    async def add(self, rule: FaultRule, cap: int | None = None) -> None:
        held = sum(1 for r in self._rules.values() if r.owner_id == rule.owner_id)
        if cap is not None and held >= cap:
            raise QuotaExceeded(cap)
        self._rules[rule.id] = rule

    async def for_owner(self, owner_id: str) -> list[FaultRule]:
        return [r for _, r in sorted(self._rules.items()) if r.owner_id == owner_id]

    async def remove(self, owner_id: str, rule_id: str) -> bool:
        rule = self._rules.get(rule_id)
        if rule is None or rule.owner_id != owner_id:
            return False
        del self._rules[rule_id]
        return True


class CachedFaultRuleStore:
    """Answers `for_owner` from memory while no replica has changed any rule (see
    `payflow_service.generations`): one Redis command per transfer instead of a store query."""

    def __init__(
        self, inner: FaultRuleStore, redis: Any, generation_key: str, max_age_s: float = 30.0
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
