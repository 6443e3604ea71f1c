"""One contract for every FaultRuleStore: MongoDB, its in-memory twin, and the Redis-generation
cache in front of MongoDB, which two replicas share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from beanie import init_beanie

from payflow_orchestrator.adapters.memory import InMemoryFaultRuleStore
from payflow_orchestrator.adapters.mongo import FaultRuleDocument, MongoFaultRuleStore
from payflow_orchestrator.adapters.redis import CachedFaultRuleStore
from payflow_orchestrator.domain.faults import FaultRule
from payflow_orchestrator.ports import FaultRuleStore
from payflow_service.quotas import QuotaExceeded

pytestmark = pytest.mark.integration


@pytest.fixture(params=["mongo", "memory", "cached"])
async def rules(
    request: Any, mongo_db: Any, redis_client: Any, unique: str
) -> AsyncIterator[FaultRuleStore]:
    if request.param == "memory":
        yield InMemoryFaultRuleStore()
        return
    await init_beanie(database=mongo_db, document_models=[FaultRuleDocument])
    mongo = MongoFaultRuleStore(mongo_db["fault_rules"])
    if request.param == "mongo":
        yield mongo
        return
    yield CachedFaultRuleStore(mongo, redis_client, f"test{unique}:fault-rules-generation")


def a_rule(rule_id: str, owner: str = "usr_a") -> FaultRule:
    return FaultRule(id=rule_id, owner_id=owner, step="debit", mode="reject")


async def test_an_owners_rules_are_theirs_only_and_leave_when_removed(
    rules: FaultRuleStore,
) -> None:
    assert await rules.for_owner("usr_a") == []
    await rules.add(a_rule("flt_1"))
    await rules.add(a_rule("flt_2", owner="usr_b"))
    assert [r.id for r in await rules.for_owner("usr_a")] == ["flt_1"]
    assert await rules.remove("usr_b", "flt_1") is False
    assert await rules.remove("usr_a", "flt_1") is True
    assert await rules.for_owner("usr_a") == []


async def test_a_rule_added_through_one_replica_is_seen_at_once_by_another(
    mongo_db: Any, redis_client: Any, unique: str
) -> None:
    await init_beanie(database=mongo_db, document_models=[FaultRuleDocument])
    key = f"test{unique}:fault-rules-generation"
    first = CachedFaultRuleStore(MongoFaultRuleStore(mongo_db["fault_rules"]), redis_client, key)
    second = CachedFaultRuleStore(MongoFaultRuleStore(mongo_db["fault_rules"]), redis_client, key)
    assert await first.for_owner("usr_a") == []  # remembered as "no rules"
    await second.add(a_rule("flt_1"))
    assert [r.id for r in await first.for_owner("usr_a")] == ["flt_1"]
    await second.remove("usr_a", "flt_1")
    assert await first.for_owner("usr_a") == []


async def test_an_owner_holds_at_most_the_cap_of_rules(rules: FaultRuleStore) -> None:
    outcomes = await asyncio.gather(
        *(rules.add(a_rule(f"flt_{n}", "usr_q"), cap=3) for n in range(12)),
        return_exceptions=True,
    )
    assert sum(o is None for o in outcomes) == 3
    assert all(isinstance(o, QuotaExceeded) for o in outcomes if o is not None)
    held = await rules.for_owner("usr_q")
    assert len(held) == 3 and all(r.owner_id == "usr_q" for r in held)
    assert await rules.remove("usr_q", held[0].id)
    await rules.add(a_rule("flt_again", "usr_q"), cap=3)
    await rules.add(a_rule("flt_other", "usr_r"), cap=3)
    with pytest.raises(QuotaExceeded):
        await rules.add(a_rule("flt_more", "usr_q"), cap=3)
