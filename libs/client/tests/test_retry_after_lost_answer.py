"""A money call whose answer is lost is retried with the same Idempotency-Key, and the money moves
once: a real TCP proxy between the client and the real gateway drops the first connection that
carries a POST, after forwarding the request (so the server did the work)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from payflow_client import PayFlow, RetryPolicy
from payflow_testing import ServiceStack
from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.e2e


class DroppingProxy:
    """Forwards 127.0.0.1:<port> to the upstream. The first connection whose request starts with
    `POST` is cut: in mode `after_answer` once the upstream began answering (the request is done
    on the server), in mode `before_answer` right after the request was forwarded."""

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
