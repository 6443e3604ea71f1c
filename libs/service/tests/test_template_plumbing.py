"""The plumbing every service's template stands on, against a real app and real stores: typed
components handed to routes, the problem catalogue, the cursor dependency, the periodic loop and
the record-once insert."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends

from payflow_contracts.paging import PagePosition, cut_page, decode_cursor, encode_cursor
from payflow_service import ServiceRuntime, create_service_app
from payflow_service.components import provider
from payflow_service.loops import run_periodically
from payflow_service.mongo import insert_first
from payflow_service.paging import Cursor
from payflow_service.problems import Problem, problem_for, subclasses
from payflow_settings import ServiceSettings

pytestmark = pytest.mark.integration


class ShopError(Exception):
    """The probe service's root."""


class OutOfStock(ShopError):
    pass


class OutOfBlueStock(OutOfStock):
    pass


class ShopClosed(ShopError):
    pass


PROBLEMS = {
    OutOfStock: Problem(409, "out_of_stock", "Nothing left."),
    ShopClosed: Problem(503, "shop_closed", "Come back later."),
}


@dataclass(frozen=True, slots=True)
class Components:
    greeting: str


Comps = Annotated[Components, Depends(provider(Components))]
router = APIRouter()


@router.get("/greeting")
async def greeting(components: Comps, cursor: Cursor) -> dict[str, Any]:
    return {"greeting": components.greeting, "after": cursor.key if cursor else None}


@router.get("/fail/{what}")
async def fail(what: str) -> None:
    raise {"stock": OutOfStock, "blue": OutOfBlueStock, "closed": ShopClosed}[what]()


def settings_for(stores: Any, unique: str) -> ServiceSettings:
    return ServiceSettings(
        _env_file=None,  # type: ignore[call-arg]
        env="test",
        mongo_url=stores.mongo_url,
        redis_url=stores.redis_url,
        database_prefix=f"t{unique}",
    )


async def test_routes_get_the_components_compose_yields_by_type(stores: Any, unique: str) -> None:
    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[Components]:
        yield Components(greeting=f"hello from {runtime.service}")

    app = create_service_app(
        service="probe",
        settings=settings_for(stores, unique),
        compose=compose,
        routers=[router],
        problems=PROBLEMS,
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://p") as http,
    ):
        answered = await http.get("/greeting")
        assert answered.json() == {"greeting": "hello from probe", "after": None}
        position = PagePosition(app_now(), "itm_1")
        paged = await http.get("/greeting", params={"cursor": encode_cursor(position)})
        assert paged.json()["after"] == position.key
        refused = await http.get("/greeting", params={"cursor": "not-a-cursor"})
        assert (refused.status_code, refused.json()["code"]) == (400, "invalid_cursor")

        for what, status, code in (
            ("stock", 409, "out_of_stock"),
            ("blue", 409, "out_of_stock"),  # a subclass answers as its listed parent
            ("closed", 503, "shop_closed"),
        ):
            failed = await http.get(f"/fail/{what}")
            assert (failed.status_code, failed.json()["code"]) == (status, code)
            assert failed.headers["content-type"] == "application/problem+json"


def app_now() -> Any:
    from payflow_contracts.clock import utc_now

    return utc_now()


async def test_components_of_another_type_are_refused(stores: Any, unique: str) -> None:
    @contextlib.asynccontextmanager
    async def compose(runtime: ServiceRuntime) -> AsyncIterator[str]:
        yield "not the components"

    app = create_service_app(
        service="probe", settings=settings_for(stores, unique), compose=compose, routers=[router]
    )
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://p",
        ) as http,
    ):
        refused = await http.get("/greeting")
    # Wired wrong is a programming error: a 500 without internals, never another type served.
    assert (refused.status_code, refused.json()["code"]) == (500, "internal_error")
    assert "ComponentsNotReady" not in refused.text


def test_the_catalogue_lookup_and_the_tree_walk() -> None:
    assert set(subclasses(ShopError)) == {OutOfStock, OutOfBlueStock, ShopClosed}
    assert problem_for(OutOfBlueStock(), PROBLEMS) == PROBLEMS[OutOfStock]
    assert problem_for(ValueError(), PROBLEMS) is None


def test_cut_page_gives_a_cursor_only_when_the_store_had_more(now: Any) -> None:
    items = [PagePosition(now - timedelta(milliseconds=i), f"itm_{i}") for i in range(5)]
    page, cursor = cut_page(items, 3, lambda p: p)
    assert page == items[:3]
    assert cursor is not None and decode_cursor(cursor) == items[2]
    assert cut_page(items[:3], 3, lambda p: p) == (items[:3], None)
    assert cut_page([], 3, lambda p: p) == ([], None)


async def test_run_periodically_survives_a_failing_round_and_stops_when_told() -> None:
    stop = asyncio.Event()
    rounds: list[int] = []

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("a store blinked")
        if len(rounds) == 3:
            stop.set()

    await asyncio.wait_for(
        run_periodically(work, interval_s=0.001, stop=stop, what="probe upkeep"), timeout=10
    )
    assert rounds == [0, 1, 2]


async def test_insert_first_keeps_the_first_decision(mongo_db: Any) -> None:
    decisions = mongo_db["decisions"]
    first = await insert_first(decisions, {"_id": "op_1", "outcome": "debited"})
    again = await insert_first(decisions, {"_id": "op_1", "outcome": "insufficient_funds"})
    assert first["outcome"] == again["outcome"] == "debited"
    assert await decisions.count_documents({}) == 1
