"""The wallet and ledger run as their own OS processes (`python -m payflow_wallet`,
`python -m payflow_ledger`), become ready, and serve a saga step end to end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis import Redis

from payflow_contracts import Envelope
from payflow_contracts.saga import PostTopUp, SagaStep, StepOutcome, StepReply
from payflow_contracts.streams import StreamNames
from payflow_messaging import BusSigner
from payflow_testing.stack import ServiceStack

pytestmark = pytest.mark.integration


def test_both_processes_start_answer_readyz_and_handle_commands(
    stores: Any, tmp_path: Path
) -> None:
    stack = ServiceStack(
        stores.mongo_url, stores.redis_url, tmp_path / "stack", services=("wallet", "ledger")
    )
    with stack:
        headers = {"X-Internal-Token": stack.internal_token}
        for name in ("wallet", "ledger"):
            ready = httpx.get(f"{stack.url(name)}/readyz", timeout=5)
            assert ready.status_code == 200, stack.log_tail(name)
            assert (stack.run_dir / f"{name}.pid").exists()
        created = httpx.post(
            f"{stack.url('wallet')}/internal/wallets",
            json={"owner_id": "usr_1", "currency": "USD"},
            headers=headers,
            timeout=5,
        )
        assert created.status_code == 201
        wallet_id = created.json()["id"]

        streams = StreamNames(stack.database_prefix)
        command = Envelope.wrap(
            PostTopUp(
                saga_id="tr_proc",
                step=SagaStep.POST_TOP_UP,
                amount=5,
                currency="USD",
                wallet_id=wallet_id,
            ),
            saga_id="tr_proc",
        )
        redis = Redis.from_url(stores.redis_url)
        try:
            body = command.to_wire().encode()
            signature = BusSigner([stack.bus_signing_key]).sign(streams.ledger_commands, body)
            redis.xadd(streams.ledger_commands, {b"envelope": body, b"signature": signature})
            deadline = time.monotonic() + 20
            replies: list[StepReply] = []
            while not replies and time.monotonic() < deadline:
                replies = [
                    Envelope.from_wire(fields[b"envelope"]).open(StepReply)
                    for _, fields in redis.xrange(streams.saga_replies)
                ]
                time.sleep(0.1)
        finally:
            redis.close()
        assert [r.outcome for r in replies] == [StepOutcome.POSTED], stack.log_tail("ledger")
        account = httpx.get(
            f"{stack.url('ledger')}/internal/accounts/{wallet_id}", headers=headers, timeout=5
        )
        assert account.json()["balance"] == 5
