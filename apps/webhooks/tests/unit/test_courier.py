"""The courier's attempts, against in-memory stores and a scripted sender."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from payflow_webhooks.adapters.memory import (
    InMemoryDeliveryStore,
    InMemoryEndpointStore,
    InMemoryEventStore,
)
from payflow_webhooks.domain.delivery import (
    AttemptResult,
    DeliveryStatus,
    from_snapshot,
    open_delivery,
    replay,
    snapshot,
)
from payflow_webhooks.domain.endpoint import DisabledReason, EndpointStatus, open_endpoint
from payflow_webhooks.domain.event import WebhookEvent
from payflow_webhooks.domain.retry_policy import RetryPolicy
from payflow_webhooks.worker.courier import WebhookCourier
from payflow_webhooks.worker.fair_share import BUSY_DEFER, FairShare, busy_defer


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now


class ScriptedSender:
    """Answers each send with the next status of its script and keeps what it was given."""

    def __init__(self, clock: Clock, *statuses: int) -> None:
        self.clock = clock
        self.statuses = list(statuses)
        self.sent: list[tuple[str, dict[str, str], bytes]] = []
        self.before_answer: list[object] = []

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        self.sent.append((url, headers, body))
        for hook in self.before_answer:
            await hook()  # type: ignore[operator]
        status = self.statuses.pop(0) if self.statuses else 200
        return AttemptResult(at=self.clock(), status_code=status, duration_ms=3)


@dataclass
class World:
    courier: WebhookCourier
    sender: ScriptedSender
    clock: Clock
    endpoints: InMemoryEndpointStore
    deliveries: InMemoryDeliveryStore
    secret: str


@pytest.fixture
async def world() -> World:
    clock = Clock()
    sender = ScriptedSender(clock)
    endpoints, events, deliveries = (
        InMemoryEndpointStore(),
        InMemoryEventStore(),
        InMemoryDeliveryStore(),
    )
    courier = WebhookCourier(
        endpoints=endpoints,
        events=events,
        deliveries=deliveries,
        sender=sender,
        policy=RetryPolicy.from_schedule("1,2", jitter=0),
        disable_after=timedelta(days=5),
        clock=clock,
        spread=lambda: 0.0,
    )
    endpoint = open_endpoint(
        endpoint_id="we_1",
        owner_id="usr_a",
        url="https://hooks.example.com/",
        event_types=["*"],
        description=None,
        now=clock(),
    )
    await endpoints.add(endpoint)
    await events.add(
        WebhookEvent(
            id="evt_1",
            type="transfer.completed",
            transfer_id="tr_1",
            owner_ids=("usr_a",),
            data={"id": "tr_1", "amount": 1250, "currency": "USD"},
            created_at=clock(),
        )
    )
    await deliveries.add(
        open_delivery(
            delivery_id="del_1",
            event_id="evt_1",
            event_type="transfer.completed",
            endpoint_id="we_1",
            owner_id="usr_a",
            event_created_at=clock(),
            traceparent=None,
            now=clock(),
        )
    )

    return World(courier, sender, clock, endpoints, deliveries, endpoint.secret)


async def test_a_successful_attempt_is_signed_recorded_and_settles_the_delivery(
    world: World,
) -> None:
    assert await world.courier.attempt("del_1") is None
    url, headers, body = world.sender.sent[0]
    assert url == "https://hooks.example.com/"
    headers["webhook-timestamp"] = str(int(world.clock().timestamp()))
    assert Webhook(world.secret).verify(body, headers)["data"]["amount"] == 1250
    delivery = await world.deliveries.get("del_1")
    assert delivery is not None and delivery.status is DeliveryStatus.SUCCEEDED
    attempts = (await world.deliveries.attempts_of(["del_1"]))["del_1"]
    assert [(a.number, a.status_code) for a in attempts] == [(1, 200)]


async def test_an_attempt_sends_the_body_kept_with_the_delivery_without_reading_the_event(
    world: World,
) -> None:
    kept = b'{"id":"evt_2","type":"transfer.completed","data":{"id":"tr_2","amount":7}}'
    await world.deliveries.add(
        open_delivery(
            delivery_id="del_2",
            event_id="evt_2",  # not in the event store: only the kept body can be sent
            event_type="transfer.completed",
            endpoint_id="we_1",
            owner_id="usr_a",
            event_created_at=world.clock(),
            traceparent=None,
            now=world.clock(),
            body=kept.decode(),
        )
    )
    assert await world.courier.attempt("del_2") is None
    _, headers, body = world.sender.sent[-1]
    assert body == kept
    assert headers["webhook-id"] == "evt_2"
    delivery = await world.deliveries.get("del_2")
    assert delivery is not None and delivery.status is DeliveryStatus.SUCCEEDED


async def test_a_failed_attempt_asks_for_a_retry_and_marks_the_endpoint_failing(
    world: World,
) -> None:
    world.sender.statuses = [500]
    assert await world.courier.attempt("del_1") == timedelta(seconds=1)
    endpoint = await world.endpoints.get("we_1")
    assert endpoint is not None and endpoint.failing_since == world.clock()
    # Run early, the job only waits for the due time; nothing is sent.
    assert await world.courier.attempt("del_1") == timedelta(seconds=1)
    assert len(world.sender.sent) == 1
    world.clock.now += timedelta(seconds=1)
    assert await world.courier.attempt("del_1") is None
    endpoint = await world.endpoints.get("we_1")
    assert endpoint is not None and endpoint.failing_since is None


async def test_a_410_disables_the_endpoint_and_later_deliveries_are_not_sent(
    world: World,
) -> None:
    world.sender.statuses = [410]
    assert await world.courier.attempt("del_1") is None
    endpoint = await world.endpoints.get("we_1")
    assert endpoint is not None and endpoint.status is EndpointStatus.DISABLED
    assert endpoint.disabled_reason is DisabledReason.RECEIVER_GONE
    delivery = await world.deliveries.get("del_1")
    assert delivery is not None
    await world.deliveries.compare_and_set(replay(delivery, world.clock()), delivery.version)
    assert await world.courier.attempt("del_1") is None
    assert len(world.sender.sent) == 1
    abandoned = await world.deliveries.get("del_1")
    assert abandoned is not None and abandoned.last_error == "the endpoint is disabled"


async def test_a_settled_delivery_is_never_sent_again(world: World) -> None:
    await world.courier.attempt("del_1")
    assert await world.courier.attempt("del_1") is None
    assert await world.courier.attempt("del_unknown") is None
    assert len(world.sender.sent) == 1


async def test_a_replay_during_an_attempt_wins_and_the_job_runs_again_at_once(
    world: World,
) -> None:
    world.sender.statuses = [500]

    async def owner_replays() -> None:
        current = await world.deliveries.get("del_1")
        assert current is not None
        await world.deliveries.compare_and_set(replay(current, world.clock()), current.version)

    world.sender.before_answer.append(owner_replays)
    assert await world.courier.attempt("del_1") == timedelta(0)
    delivery = await world.deliveries.get("del_1")
    assert delivery is not None and delivery.round_failures == 0 and delivery.is_pending
    attempts = (await world.deliveries.attempts_of(["del_1"]))["del_1"]
    assert [a.status_code for a in attempts] == [500]


async def test_an_endpoint_failing_for_five_days_is_disabled_on_its_next_failure(
    world: World,
) -> None:
    endpoint = await world.endpoints.get("we_1")
    assert endpoint is not None
    await world.endpoints.mark_failing("we_1", world.clock() - timedelta(days=5))
    world.sender.statuses = [500]
    assert await world.courier.attempt("del_1") is None
    disabled = await world.endpoints.get("we_1")
    assert disabled is not None and disabled.status is EndpointStatus.DISABLED
    assert disabled.disabled_reason is DisabledReason.FAILING_TOO_LONG
    delivery = await world.deliveries.get("del_1")
    assert delivery is not None and delivery.status is DeliveryStatus.FAILED


# ---------------------------------------------------------------- fair share of the slots


def test_an_endpoint_and_an_owner_each_get_their_share_and_no_more() -> None:
    share = FairShare(per_endpoint=2, per_owner=3)
    assert share.try_take("we_a", "usr_1") and share.try_take("we_a", "usr_1")
    assert not share.try_take("we_a", "usr_1")  # the endpoint's share
    assert share.try_take("we_b", "usr_1")
    assert not share.try_take("we_c", "usr_1")  # the owner's share
    assert share.try_take("we_d", "usr_2")  # another owner is not affected
    share.give_back("we_a", "usr_1")
    assert share.in_flight("we_a") == 1
    assert share.try_take("we_a", "usr_1")
    for endpoint in ("we_a", "we_a", "we_b", "we_d"):
        share.give_back(endpoint, "usr_2" if endpoint == "we_d" else "usr_1")
    assert share.in_flight("we_a") == 0 and share.try_take("we_c", "usr_1")


def test_a_busy_job_waits_about_a_second() -> None:
    assert busy_defer(0.0) == BUSY_DEFER / 2
    assert busy_defer(0.99) < BUSY_DEFER * 1.5
    assert timedelta(seconds=1) == BUSY_DEFER


async def test_a_job_of_an_endpoint_at_its_share_waits_without_sending(world: World) -> None:
    share = FairShare(per_endpoint=1, per_owner=10)
    world.courier._share = share
    for n in (2, 3):
        await world.deliveries.add(
            open_delivery(
                delivery_id=f"del_{n}",
                event_id=f"evt_{n}",
                event_type="transfer.completed",
                endpoint_id="we_1",
                owner_id="usr_a",
                event_created_at=world.clock(),
                traceparent=None,
                now=world.clock(),
                body=f'{{"id":"evt_{n}"}}',
            )
        )
    released = asyncio.Event()
    sending = asyncio.Event()

    async def held() -> None:
        sending.set()
        await released.wait()

    world.sender.before_answer.append(held)
    first = asyncio.create_task(world.courier.attempt("del_1"))
    await sending.wait()  # del_1 is in flight: the endpoint holds its one place
    assert await world.courier.attempt("del_2") == BUSY_DEFER / 2
    assert len(world.sender.sent) == 1
    untouched = await world.deliveries.get("del_2")
    assert untouched is not None and untouched.attempt_count == 0
    assert (await world.deliveries.attempts_of(["del_2"]))["del_2"] == []
    released.set()
    assert await first is None
    assert share.in_flight("we_1") == 0  # given back once the send is over
    world.sender.before_answer.clear()
    assert await world.courier.attempt("del_2") is None
    sent = await world.deliveries.get("del_2")
    assert sent is not None and sent.status is DeliveryStatus.SUCCEEDED


async def test_a_failed_send_gives_its_place_back(world: World) -> None:
    share = FairShare(per_endpoint=1, per_owner=1)
    world.courier._share = share

    async def broken(url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        raise RuntimeError("the sender broke")

    world.courier._sender.send = broken  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await world.courier.attempt("del_1")
    assert share.in_flight("we_1") == 0
    assert share.try_take("we_1", "usr_a")


async def test_a_job_snapshot_stands_for_the_read_and_a_stale_one_never_settles(
    world: World,
) -> None:
    enqueued = await world.deliveries.get("del_1")
    assert enqueued is not None
    # The snapshot a job carries comes back as the delivery it was made of.
    assert from_snapshot(json.loads(json.dumps(snapshot(enqueued)))) == enqueued
    # Settled meanwhile (by another run): the stale snapshot sends once more (webhooks are at
    # least once) but its settlement is refused, and the stored delivery decides: no more work.
    assert await world.courier.attempt("del_1") is None
    settled = await world.deliveries.get("del_1")
    assert settled is not None and settled.status is DeliveryStatus.SUCCEEDED
    assert await world.courier.attempt("del_1", known=enqueued) is None
    assert await world.deliveries.get("del_1") == settled
    attempts = (await world.deliveries.attempts_of(["del_1"]))["del_1"]
    assert [a.status_code for a in attempts] == [200, 200]


async def test_a_fresh_snapshot_makes_the_attempt_without_reading_the_delivery(
    world: World,
) -> None:
    enqueued = await world.deliveries.get("del_1")
    assert enqueued is not None

    async def unreadable(delivery_id: str, owner_id: str | None = None) -> None:
        raise AssertionError("the first run of a job reads no delivery")

    world.deliveries.get = unreadable  # type: ignore[method-assign]
    assert await world.courier.attempt("del_1", known=enqueued) is None
    assert len(world.sender.sent) == 1


async def test_a_later_run_of_a_busy_endpoints_job_waits_without_reading_the_store(
    world: World,
) -> None:
    share = FairShare(per_endpoint=1, per_owner=10)
    world.courier._share = share
    enqueued = await world.deliveries.get("del_1")
    assert enqueued is not None
    assert share.try_take("we_1", "usr_a")  # another job of the endpoint is in flight
    reads: list[str] = []
    stored_get = world.deliveries.get

    async def counted(delivery_id: str, owner_id: str | None = None) -> object:
        reads.append(delivery_id)
        return await stored_get(delivery_id, owner_id)

    world.deliveries.get = counted  # type: ignore[method-assign]
    assert await world.courier.attempt("del_1", enqueued, current=False) == BUSY_DEFER / 2
    assert reads == [] and world.sender.sent == []
    share.give_back("we_1", "usr_a")
    # Its turn: a later run reads the stored delivery (it may have changed) and sends it.
    assert await world.courier.attempt("del_1", enqueued, current=False) is None
    assert reads == ["del_1"] and len(world.sender.sent) == 1
    assert share.in_flight("we_1") == 0


async def test_an_opened_delivery_s_first_attempt_says_whether_it_is_still_as_given(
    world: World,
) -> None:
    """The event's job: a delivery sent and settled needs nothing more; one whose endpoint has
    its share waits, untouched, so its own job may use it as it is; a failed one needs a retry,
    and its stored copy has moved on."""
    share = FairShare(per_endpoint=1, per_owner=10)
    world.courier._share = share
    opened = await world.deliveries.get("del_1")
    assert opened is not None
    assert await world.courier.attempt_opened(opened) == (None, False)
    assert share.in_flight("we_1") == 0
    share.try_take("we_1", "usr_a")  # another send of the endpoint is in flight
    second = await world.deliveries.add(
        replace(opened, id="del_2", event_id="evt_2", body='{"id":"evt_2"}')
    )
    assert await world.courier.attempt_opened(second) == (BUSY_DEFER / 2, True)
    assert (await world.deliveries.get("del_2")) == second
    share.give_back("we_1", "usr_a")
    world.sender.statuses.append(500)
    retry_in, unchanged = await world.courier.attempt_opened(second)
    assert retry_in == timedelta(seconds=1) and not unchanged
    stored = await world.deliveries.get("del_2")
    assert stored is not None and stored.version == second.version + 1
