"""Refunds through the orchestrator's internal API, in process against real stores: a refund must
name a completed transfer and mirror it, and a transfer is refunded at most once, whatever the
idempotency key of the request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from orchestrator_support import a_transfer

from payflow_contracts import new_id
from payflow_orchestrator.domain.saga_machine import SagaKind, SagaState
from payflow_orchestrator.main import create_app
from payflow_orchestrator.repository import MongoTransferRepository, TransferDocument
from payflow_orchestrator.settings import OrchestratorSettings
from payflow_testing.clock import utc_now_ms

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


async def a_stored_transfer(state: SagaState, kind: SagaKind = SagaKind.TRANSFER) -> str:
    """A transfer usr_a -> usr_b of 100 USD from wal_a to wal_b, stored in `state`."""
    transfer_id = new_id("tr")
    transfer = a_transfer(transfer_id, at=utc_now_ms(), key=transfer_id, kind=kind).model_copy(
        update={"state": state}
    )
    await MongoTransferRepository(TransferDocument.get_pymongo_collection()).add(transfer)
    return transfer_id


def refund_of(transfer_id: str, key: str | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "initiator_id": "usr_b",
        "idempotency_key": key or f"refund of {transfer_id}",
        "kind": "refund",
        "source_wallet_id": "wal_b",
        "destination_wallet_id": "wal_a",
        "amount": 100,
        "currency": "USD",
        "owner_ids": ["usr_a", "usr_b"],
        "refund_of": transfer_id,
        **changes,
    }


async def test_a_completed_transfer_is_refunded_once_whatever_the_key(
    api: httpx.AsyncClient,
) -> None:
    original = await a_stored_transfer(SagaState.COMPLETED)
    first = await api.post("/internal/transfers", json=refund_of(original))
    assert first.status_code == 201, first.text
    assert first.json()["refund_of"] == original
    again = await api.post("/internal/transfers", json=refund_of(original, key="another key"))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    stored = TransferDocument.get_pymongo_collection()
    assert await stored.count_documents({"refund_of": original}) == 1


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (SagaState.DEBITING_SOURCE, SagaKind.TRANSFER),
        (SagaState.FAILED, SagaKind.TRANSFER),
        (SagaState.COMPLETED, SagaKind.TOP_UP),
    ],
)
async def test_only_a_completed_transfer_can_be_refunded(
    api: httpx.AsyncClient, state: SagaState, kind: SagaKind
) -> None:
    original = await a_stored_transfer(state, kind)
    refused = await api.post("/internal/transfers", json=refund_of(original))
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "transfer_not_refundable"


async def test_a_refund_of_a_transfer_that_does_not_exist_is_refused(
    api: httpx.AsyncClient,
) -> None:
    refused = await api.post("/internal/transfers", json=refund_of(new_id("tr")))
    assert (refused.status_code, refused.json()["code"]) == (422, "transfer_not_refundable")
    stored = TransferDocument.get_pymongo_collection()
    assert await stored.count_documents({}) == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 99},
        {"amount": 101},
        {"currency": "EUR"},
        {"source_wallet_id": "wal_c"},
        {"destination_wallet_id": "wal_c"},
    ],
)
async def test_a_refund_must_mirror_the_transfer_it_returns(
    api: httpx.AsyncClient, changes: dict[str, Any]
) -> None:
    original = await a_stored_transfer(SagaState.COMPLETED)
    refused = await api.post("/internal/transfers", json=refund_of(original, **changes))
    assert (refused.status_code, refused.json()["code"]) == (422, "transfer_not_refundable")


async def test_a_date_filter_without_a_timezone_is_a_validation_error(
    api: httpx.AsyncClient,
) -> None:
    naive = await api.get("/internal/transfers", params={"created_gte": "2026-01-01T00:00:00"})
    assert (naive.status_code, naive.json()["code"]) == (422, "validation_error")
    aware = await api.get("/internal/transfers", params={"created_gte": "2026-01-01T00:00:00Z"})
    assert aware.status_code == 200
