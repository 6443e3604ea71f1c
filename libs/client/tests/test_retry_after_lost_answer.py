"""A money call whose answer is lost, or that meets a 429 or a 503, is retried with the same
Idempotency-Key, and the money moves once: a real TCP proxy between the client and the real
gateway cuts (or throttles) the first connection that carries a POST; a killed orchestrator makes
the real gateway answer 503."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from payflow_client import PayFlow, RetryPolicy
from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to the upstream. The first connection whose request starts with
    `POST` is cut: in mode `after_answer` once the upstream began answering (the request is done
    on the server), in mode `before_answer` right after the request was forwarded; in mode
    `throttle` it is answered `429` with `Retry-After: 1` and never forwarded."""

    def __init__(self, upstream_port: int, mode: str) -> None:
        self.upstream_port = upstream_port
        self.mode = mode
        self.posts_seen = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                downstream, _ = self._listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._handle, args=(downstream,), daemon=True).start()

    def _handle(self, downstream: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        with contextlib.ExitStack() as stack:
            stack.callback(downstream.close)
            stack.callback(upstream.close)
            first = downstream.recv(65536)
            if not first:
                return
            drop = False
            if first.startswith(b"POST"):
                with self._lock:
                    self.posts_seen += 1
                    drop = self.dropped == 0
                    if drop:
                        self.dropped += 1
            if drop and self.mode == "throttle":
                problem = (
                    b'{"type":"about:blank","title":"Too Many Requests","status":429,'
                    b'"detail":"Slow down.","code":"rate_limited"}'
                )
                downstream.sendall(
                    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\n"
                    b"content-type: application/problem+json\r\n"
                    + f"content-length: {len(problem)}\r\n\r\n".encode()
                    + problem
                )
                return
            upstream.sendall(first)
            if drop:
                self._forward_rest_of_request(downstream, upstream, first)
                if self.mode == "after_answer":
                    upstream.recv(1)  # the server has finished the work and is answering
                return  # both sockets close: the client never sees an answer
            pumps = [
                threading.Thread(target=_pump, args=(downstream, upstream), daemon=True),
                threading.Thread(target=_pump, args=(upstream, downstream), daemon=True),
            ]
            for pump in pumps:
                pump.start()
            for pump in pumps:
                pump.join(timeout=60)

    @staticmethod
    def _forward_rest_of_request(
        downstream: socket.socket, upstream: socket.socket, first: bytes
    ) -> None:
        head, _, body = first.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        missing = length - len(body)
        while missing > 0:
            chunk = downstream.recv(min(65536, missing))
            if not chunk:
                return
            upstream.sendall(chunk)
            missing -= len(chunk)


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)


@pytest.fixture
def orchestrator_transfers(stores: StoreEndpoints, stack: ServiceStack) -> Iterator[Any]:
    client: MongoClient[Any] = MongoClient(stores.mongo_url, serverSelectionTimeoutMS=5000)
    yield client[f"{stack.database_prefix}_orchestrator"]["transfers"]
    client.close()


@pytest.mark.parametrize("mode", ["after_answer", "before_answer"])
def test_a_transfer_whose_answer_is_lost_is_retried_once_with_the_same_key(
    mode: str,
    people: Callable[[str], Any],
    stack: ServiceStack,
    orchestrator_transfers: Any,
) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 5_000, wait=10)
    gateway_port = stack.processes["gateway"].port
    key = f"lost-answer-{mode}-{alice.user_id}"

    with (
        DroppingProxy(gateway_port, mode) as proxy,
        PayFlow(
            proxy.url,
            access_token=alice.client.tokens.access_token,
            refresh_token=alice.client.tokens.refresh_token,
            retry=RetryPolicy(max_retries=3, base_delay=0.2),
        ) as through_proxy,
    ):
        transfer = through_proxy.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=1_250,
            currency="USD",
            idempotency_key=key,
            wait=5,
        )

    assert proxy.dropped == 1
    assert proxy.posts_seen >= 2, "the client must have sent the request again"
    # Exactly one saga for that key, and it is the one the client returned.
    sagas = list(
        orchestrator_transfers.find({"initiator_id": alice.user_id, "idempotency_key": key})
    )
    assert [s["_id"] for s in sagas] == [transfer.id]
    final = alice.client.transfers.wait(transfer.id, timeout=30)
    assert final.status == "completed"
    sent = [
        t for t in alice.client.transfers.list(wallet_id=alice.wallet_id) if t.kind == "transfer"
    ]
    assert [t.id for t in sent] == [transfer.id]
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 5_000 - 1_250
    assert bob.client.wallets.retrieve(bob.wallet_id).balance == 1_250


def test_without_retries_the_lost_answer_surfaces_with_its_key_for_a_safe_retry(
    people: Callable[[str], Any], stack: ServiceStack
) -> None:
    """With retries off the caller gets `APIConnectionError` carrying the generated key; sending
    again with that key returns the transfer the first attempt made."""
    from payflow_client import APIConnectionError

    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    with (
        DroppingProxy(stack.processes["gateway"].port, "after_answer") as proxy,
        PayFlow(
            proxy.url,
            access_token=alice.client.tokens.access_token,
            retry=RetryPolicy(max_retries=0),
        ) as through_proxy,
    ):
        with pytest.raises(APIConnectionError) as lost:
            through_proxy.transfers.create(
                source_wallet_id=alice.wallet_id,
                destination_wallet_id=bob.wallet_id,
                amount=400,
                currency="USD",
                wait=5,
            )
        key = lost.value.idempotency_key
        assert key is not None
        again = through_proxy.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=400,
            currency="USD",
            idempotency_key=key,
            wait=5,
        )
    assert proxy.posts_seen == 2
    assert alice.client.transfers.wait(again.id).status == "completed"
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 600


def _recording_client(base_url: str, seen: list[tuple[int, str | None]]) -> httpx.Client:
    def record(response: httpx.Response) -> None:
        seen.append((response.status_code, response.request.headers.get("idempotency-key")))

    return httpx.Client(base_url=base_url, timeout=30, event_hooks={"response": [record]})


def test_a_429_is_retried_after_its_retry_after(
    people: Callable[[str], Any], stack: ServiceStack
) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    seen: list[tuple[int, str | None]] = []
    with (
        DroppingProxy(stack.processes["gateway"].port, "throttle") as proxy,
        _recording_client(proxy.url, seen) as http,
        PayFlow(
            proxy.url,
            access_token=alice.client.tokens.access_token,
            retry=RetryPolicy(base_delay=0.05),
            http_client=http,
        ) as through_proxy,
    ):
        started = time.monotonic()
        transfer = through_proxy.transfers.create(
            source_wallet_id=alice.wallet_id,
            destination_wallet_id=bob.wallet_id,
            amount=250,
            currency="USD",
            wait=5,
        )
        took = time.monotonic() - started
    assert [status for status, _ in seen] == [429, 200]
    assert seen[0][1] == seen[1][1] is not None  # one key for both attempts
    assert took >= 1.0  # Retry-After: 1 beat the 0.05 s backoff
    assert transfer.status == "completed"
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 750


def test_a_503_from_the_real_gateway_is_retried_until_the_orchestrator_is_back(
    people: Callable[[str], Any], stack: ServiceStack, base_url: str
) -> None:
    alice, bob = people("alice"), people("bob")
    alice.client.top_ups.create(alice.wallet_id, 1_000, wait=10)
    seen: list[tuple[int, str | None]] = []
    stack.kill("orchestrator")
    reviver = threading.Timer(1.5, stack.restart, args=("orchestrator",))
    reviver.start()
    try:
        with (
            _recording_client(base_url, seen) as http,
            PayFlow(
                base_url,
                access_token=alice.client.tokens.access_token,
                retry=RetryPolicy(max_retries=12, base_delay=0.5, max_delay=2.0),
                http_client=http,
            ) as client,
        ):
            transfer = client.transfers.create(
                source_wallet_id=alice.wallet_id,
                destination_wallet_id=bob.wallet_id,
                amount=300,
                currency="USD",
                wait=5,
            )
    finally:
        reviver.join(timeout=90)
        stack.wait_ready("orchestrator")
    statuses = [status for status, _ in seen]
    assert statuses[0] == 503 and statuses[-1] in (200, 202), statuses
    assert set(statuses[:-1]) == {503}
    assert len({key for _, key in seen}) == 1  # every attempt carried the same key
    final = alice.client.transfers.wait(transfer.id, timeout=60)
    assert final.status == "completed"
    sent = [
        t for t in alice.client.transfers.list(wallet_id=alice.wallet_id) if t.kind == "transfer"
    ]
    assert [t.id for t in sent] == [transfer.id]
    assert alice.client.wallets.retrieve(alice.wallet_id).balance == 700
