"""Reaching Redis is not enough to move money: a command that is not signed with the bus key is
dead-lettered unread, and a genuine command copied back onto the stream changes nothing.

Every process runs as its own OS process on a Redis that requires a password; the test plays
someone who has that password (or any other way into Redis) but not the bus key.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx
import pytest
from e2e_support import reconcile
from redis.asyncio import Redis

from payflow_contracts import Envelope, new_id
from payflow_contracts.saga import CreditWallet, SagaStep, StepReply
from payflow_contracts.streams import StreamNames, dead_letter_stream
from payflow_messaging import BusSigner
from payflow_testing import ServiceStack

pytestmark = pytest.mark.e2e


def rejected_count(metrics: str, stream: str, reason: str) -> float:
    pattern = (
        r"^payflow_stream_messages_rejected_total\{"
        rf'(?=[^}}]*reason="{reason}")(?=[^}}]*stream="{re.escape(stream)}")[^}}]*\}} (\S+)$'
    )
    found = re.search(pattern, metrics, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def dead_letters_of(redis: Any, stream: str, saga_ids: set[str]) -> list[dict[bytes, Any]]:
    entries = await redis.xrange(dead_letter_stream(stream))
    return [
        fields
        for _, fields in entries
        if b"envelope" in fields and Envelope.from_wire(fields[b"envelope"]).saga_id in saga_ids
    ]


async def test_a_forged_credit_moves_no_money_and_is_dead_lettered(
    stack: ServiceStack, customers: Any, admin: httpx.AsyncClient
) -> None:
    mallory = await customers("mallory")
    await mallory.top_up(100)
    streams = StreamNames(stack.database_prefix)
    commands = streams.wallet_commands
    redis = Redis.from_url(stack.redis_url)
    try:
        forged: dict[str, bytes] = {}
        for label in ("unsigned", "wrongly-signed"):
            saga_id = new_id("tr")
            command = CreditWallet(
                saga_id=saga_id,
                step=SagaStep.CREDIT_DESTINATION,
                amount=1_000_000,
                currency="USD",
                wallet_id=mallory.wallet_id,
            )
            body = Envelope.wrap(command, saga_id=saga_id).to_wire().encode()
            # A command of the right shape: the wallet would act on it if it were signed.
            assert Envelope.from_wire(body).open(CreditWallet).amount == 1_000_000
            fields = {b"envelope": body}
            if label == "wrongly-signed":
                guessed = BusSigner(["a-key-mallory-made-up-" + "m" * 32])
                fields[b"signature"] = guessed.sign(commands, body)
            await redis.xadd(commands, fields)
            forged[label] = saga_id.encode()

        deadline = time.monotonic() + 20
        dead: list[dict[bytes, Any]] = []
        while len(dead) < 2:
            assert time.monotonic() < deadline, "the forged commands were not dead-lettered"
            await asyncio.sleep(0.1)
            dead = await dead_letters_of(redis, commands, {s.decode() for s in forged.values()})
        reasons = {
            Envelope.from_wire(fields[b"envelope"]).saga_id: fields[b"reason"] for fields in dead
        }
        assert reasons == {
            forged["unsigned"].decode(): b"missing_signature",
            forged["wrongly-signed"].decode(): b"bad_signature",
        }
        assert await mallory.balance() == 100
        # No reply was sent for them: the wallet never read them.
        replies = await redis.xrange(streams.saga_replies)
        answered = {Envelope.from_wire(f[b"envelope"]).saga_id for _, f in replies}
        assert not answered & {s.decode() for s in forged.values()}
        metrics = httpx.get(f"{stack.url('wallet')}/metrics", timeout=10).text
        assert rejected_count(metrics, commands, "missing_signature") >= 1
        assert rejected_count(metrics, commands, "bad_signature") >= 1

        # A genuine, signed credit read off the stream and added again is answered from the
        # wallet's record of it: the money moves once.
        genuine = [
            (entry_id, fields)
            for entry_id, fields in await redis.xrange(commands)
            if b"signature" in fields
            and Envelope.from_wire(fields[b"envelope"]).type == CreditWallet.MESSAGE_TYPE
            and Envelope.from_wire(fields[b"envelope"]).open(CreditWallet).wallet_id
            == mallory.wallet_id
        ]
        assert genuine  # (more than one when the sweeper re-sent the step)
        copied = genuine[0][1]
        message_id = Envelope.from_wire(copied[b"envelope"]).message_id
        await redis.xadd(commands, copied)
        deadline = time.monotonic() + 20
        while True:
            replies = await redis.xrange(streams.saga_replies)
            answers = [
                f
                for _, f in replies
                if Envelope.from_wire(f[b"envelope"]).causation_id == message_id
            ]
            if len(answers) >= 2:
                break
            assert time.monotonic() < deadline, "the copied command was not answered"
            await asyncio.sleep(0.1)
        outcomes = {Envelope.from_wire(f[b"envelope"]).open(StepReply).outcome for f in answers}
        assert outcomes == {"credited"}  # the recorded answer, given again
        assert await mallory.balance() == 100
    finally:
        await redis.aclose()
    report = await reconcile(admin)
    assert report["ok"], report
