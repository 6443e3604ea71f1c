"""Refunds through the orchestrator's internal API, in process against real stores: a refund is
part or all of what is left of a completed transfer, each Idempotency-Key is one refund, and the
sum of refunds reserved never exceeds the original, however many requests race.

No wallet or ledger runs here, so refund sagas stay in flight: their shares stay reserved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import httpx
import pytest
from orchestrator_support import a_transfer

from payflow_contracts import new_id
from payflow_orchestrator.adapters.mongo import MongoTransferRepository, TransferDocument
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.main import create_app
from payflow_orchestrator.settings import OrchestratorSettings

pytestmark = pytest.mark.integration

TOKEN = "test-internal-token"


@pytest.fixture
async def api(stores: Any, unique: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = OrchestratorSettings(
        env="test",
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        database_prefix=f"t{unique}",
        stream_prefix=f"t{unique}",
        internal_token=TOKEN,
        sweeper_interval_s=60,
    )
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://orchestrator",
            headers={"X-Internal-Token": TOKEN},
        ) as client,
    ):
        yield client
        await app.state.runtime.mongo.drop_database(settings.database_name)


async def a_stored_transfer(
    now: datetime, state: SagaState = SagaState.COMPLETED, kind: SagaKind = SagaKind.TRANSFER
) -> str:
    """A transfer usr_a -> usr_b of 100 USD from wal_a to wal_b, stored in `state`."""
    transfer_id = new_id("tr")
    transfer = replace(a_transfer(transfer_id, at=now, key=transfer_id, kind=kind), state=state)
    await MongoTransferRepository(TransferDocument.get_pymongo_collection()).add(transfer)
    return transfer_id


async def refund(
    api: httpx.AsyncClient, transfer_id: str, key: str, amount: int | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"initiator_id": "usr_b", "idempotency_key": key}
    if amount is not None:
        body["amount"] = amount
    return await api.post(f"/internal/transfers/{transfer_id}/refunds", json=body)


async def original(api: httpx.AsyncClient, transfer_id: str) -> dict[str, Any]:
    response = await api.get(f"/internal/transfers/{transfer_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_partial_refunds_follow_each_other_until_the_amount_is_used_up(
    api: httpx.AsyncClient, now: datetime
) -> None:
    paid = await a_stored_transfer(now)
    first = await refund(api, paid, "k1", 30)
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["kind"], made["refund_of"], made["amount"]) == ("refund", paid, 30)
    assert (made["source_wallet_id"], made["destination_wallet_id"]) == ("wal_b", "wal_a")
    second = await refund(api, paid, "k2", 50)
    assert second.status_code == 201, second.text
    too_much = await refund(api, paid, "k3", 21)
    assert (too_much.status_code, too_much.json()["code"]) == (422, "refund_exceeds_remaining")
    rest = await refund(api, paid, "k4")  # no amount: all that is left
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == 20
    nothing_left = await refund(api, paid, "k5")
    assert (nothing_left.status_code, nothing_left.json()["code"]) == (
        422,
        "refund_exceeds_remaining",
    )
    seen = await original(api, paid)
    assert seen["refunds"] == [made["id"], second.json()["id"], rest.json()["id"]]
    assert seen["refunded_amount"] == 0  # none completed yet: all three are in flight


async def test_a_repeated_key_answers_its_refund_and_never_reserves_twice(
    api: httpx.AsyncClient, now: datetime
) -> None:
    paid = await a_stored_transfer(now)
    first = await refund(api, paid, "same", 40)
    assert first.status_code == 201
    again = await refund(api, paid, "same", 40)
    assert (again.status_code, again.json()["id"]) == (200, first.json()["id"])
    without_amount = await refund(api, paid, "same")
    assert (without_amount.status_code, without_amount.json()["id"]) == (200, first.json()["id"])
    other_amount = await refund(api, paid, "same", 41)
    assert (other_amount.status_code, other_amount.json()["code"]) == (
        422,
        "idempotency_key_reused",
    )
    # 60 is left: a new key may take it all.
    assert (await refund(api, paid, "another", 60)).status_code == 201
    stored = TransferDocument.get_pymongo_collection()
    assert await stored.count_documents({"refund_of": paid}) == 2


async def test_twenty_concurrent_partial_refunds_never_reserve_more_than_the_original(
    api: httpx.AsyncClient, now: datetime
) -> None:
    paid = await a_stored_transfer(now)
    answers = await asyncio.gather(*(refund(api, paid, f"k{i}", 15) for i in range(20)))
    made = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code != 201]
    assert len(made) == 6  # 6 x 15 = 90 <= 100 < 7 x 15
    assert {(a.status_code, a.json()["code"]) for a in refused} == {
        (422, "refund_exceeds_remaining")
    }
    stored = TransferDocument.get_pymongo_collection()
    refunds = [doc async for doc in stored.find({"refund_of": paid})]
    assert sum(doc["amount"] for doc in refunds) == 90
    seen = await original(api, paid)
    assert sorted(seen["refunds"]) == sorted(a.json()["id"] for a in made)


async def test_the_same_key_twenty_times_at_once_makes_one_refund(
    api: httpx.AsyncClient, now: datetime
) -> None:
    paid = await a_stored_transfer(now)
    answers = await asyncio.gather(*(refund(api, paid, "one key", 10) for _ in range(20)))
    assert {a.status_code for a in answers} <= {200, 201}
    assert len({a.json()["id"] for a in answers}) == 1
    seen = await original(api, paid)
    assert len(seen["refunds"]) == 1
    stored = TransferDocument.get_pymongo_collection()
    assert (await stored.find_one({"_id": paid}))["refund_reserved"] == 10


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (SagaState.DEBITING_SOURCE, SagaKind.TRANSFER),
        (SagaState.FAILED, SagaKind.TRANSFER),
        (SagaState.COMPENSATED, SagaKind.TRANSFER),
        (SagaState.COMPLETED, SagaKind.TOP_UP),
    ],
)
async def test_only_a_completed_transfer_can_be_refunded(
    api: httpx.AsyncClient, now: datetime, state: SagaState, kind: SagaKind
) -> None:
    paid = await a_stored_transfer(now, state, kind)
    refused = await refund(api, paid, "k")
    assert (refused.status_code, refused.json()["code"]) == (422, "transfer_not_refundable")


async def test_only_an_owner_of_the_transfer_can_refund_it(
    api: httpx.AsyncClient, now: datetime
) -> None:
    paid = await a_stored_transfer(now)
    stranger = await api.post(
        f"/internal/transfers/{paid}/refunds",
        json={"initiator_id": "usr_stranger", "idempotency_key": "k"},
    )
    assert (stranger.status_code, stranger.json()["code"]) == (422, "transfer_not_refundable")


async def test_a_refund_of_a_transfer_that_does_not_exist_is_refused_and_stores_nothing(
    api: httpx.AsyncClient,
) -> None:
    missing = await refund(api, new_id("tr"), "k")
    assert (missing.status_code, missing.json()["code"]) == (404, "transfer_not_found")
    stored = TransferDocument.get_pymongo_collection()
    assert await stored.count_documents({}) == 0


@pytest.mark.parametrize("amount", [0, -5, 10.0, "10", True])
async def test_a_bad_amount_is_a_validation_error(
    api: httpx.AsyncClient, now: datetime, amount: Any
) -> None:
    paid = await a_stored_transfer(now)
    bad = await api.post(
        f"/internal/transfers/{paid}/refunds",
        json={"initiator_id": "usr_b", "idempotency_key": "k", "amount": amount},
    )
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")


async def test_refunds_go_through_their_own_route_only(
    api: httpx.AsyncClient, now: datetime
) -> None:
    paid = await a_stored_transfer(now)
    generic = await api.post(
        "/internal/transfers",
        json={
            "initiator_id": "usr_b",
            "idempotency_key": "k",
            "kind": "refund",
            "source_wallet_id": "wal_b",
            "destination_wallet_id": "wal_a",
            "amount": 100,
            "currency": "USD",
            "owner_ids": ["usr_a", "usr_b"],
        },
    )
    assert (generic.status_code, generic.json()["code"]) == (422, "validation_error")
    stored = TransferDocument.get_pymongo_collection()
    assert await stored.count_documents({"kind": "refund"}) == 0
    assert (await original(api, paid))["refunds"] == []


async def test_a_transfer_refunded_before_partial_refunds_keeps_its_refund(
    api: httpx.AsyncClient, now: datetime
) -> None:
    """A database from before partial refunds: the original has no refund fields and its one
    refund (the whole amount) is stored. The guard counts that refund."""
    paid = await a_stored_transfer(now)
    stored = TransferDocument.get_pymongo_collection()
    old_refund = a_transfer(new_id("tr"), at=now, key=f"refund of {paid}", kind=SagaKind.REFUND)
    await MongoTransferRepository(stored).add(
        replace(old_refund, state=SagaState.COMPLETED, refund_of=paid)
    )
    await stored.update_one(
        {"_id": paid},
        {
            "$unset": {
                "refund_reserved": "",
                "refunded_amount": "",
                "refund_ids": "",
                "reservations": "",
                "reservations_open": "",
            }
        },
    )
    refused = await refund(api, paid, "k", 1)
    assert (refused.status_code, refused.json()["code"]) == (422, "refund_exceeds_remaining")
    seen = await original(api, paid)
    assert (seen["refunded_amount"], seen["refunds"]) == (100, [old_refund.id])


async def test_a_date_filter_without_a_timezone_is_a_validation_error(
    api: httpx.AsyncClient,
) -> None:
    naive = await api.get("/internal/transfers", params={"created_gte": "2026-01-01T00:00:00"})
    assert (naive.status_code, naive.json()["code"]) == (422, "validation_error")
    aware = await api.get("/internal/transfers", params={"created_gte": "2026-01-01T00:00:00Z"})
    assert aware.status_code == 200
