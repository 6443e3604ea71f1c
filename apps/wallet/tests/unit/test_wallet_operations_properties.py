"""Properties of settling wallet operations under duplicated, reordered, interleaved delivery,
on the in-memory twins with the scheduler perturbed between every store call, while the pruner
records and drops every mark as soon as it can: sagas say when they began (in any order, some
at the same millisecond) or do not, so decisions from the wallet alone and decisions that read
the records race each other and the prunes."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payflow_contracts.clock import utc_now
from payflow_contracts.saga import SagaStep, StepOutcome
from payflow_wallet.adapters.memory import InMemoryOperationLog, InMemoryWalletRepository
from payflow_wallet.domain.operations import OperationKind, OperationRecord, OperationRequest
from payflow_wallet.domain.wallet import open_wallet
from payflow_wallet.mark_pruner import MarkPruner
from payflow_wallet.wallet_operations import WalletOperations

STEPS = {
    OperationKind.DEBIT: (SagaStep.DEBIT_SOURCE, None),
    OperationKind.REFUND: (SagaStep.REFUND_SOURCE, SagaStep.DEBIT_SOURCE),
    OperationKind.CREDIT: (SagaStep.CREDIT_DESTINATION, None),
    OperationKind.CANCEL_CREDIT: (SagaStep.CANCEL_CREDIT, SagaStep.CREDIT_DESTINATION),
}


class Interleaved:
    """Delegates to a store, yielding to other tasks a random number of times first, and
    checking after every call that the balance never went below zero."""

    def __init__(self, store: Any, rng: random.Random, wallets: InMemoryWalletRepository) -> None:
        self._store = store
        self._rng = rng
        self._wallets = wallets

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def call(*args: Any) -> Any:
            for _ in range(self._rng.randint(0, 3)):
                await asyncio.sleep(0)
            result = await method(*args)
            wallet = await self._wallets.get("wal_1")
            assert wallet is None or wallet.balance >= 0
            return result

        return call


saga_plans = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=60),  # amount
        st.sampled_from(["debit", "credit"]),  # which side of a saga this wallet is on
        st.booleans(),  # is it compensated?
        st.integers(min_value=1, max_value=3),  # deliveries of each command
        st.one_of(st.none(), st.integers(min_value=1, max_value=6)),  # when the saga began
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans=saga_plans, opening=st.integers(0, 200), rng=st.randoms(use_true_random=False))
def test_every_operation_takes_effect_at_most_once_and_money_adds_up(
    plans: list[tuple[int, str, bool, int, int | None]], opening: int, rng: random.Random
) -> None:
    asyncio.run(_run_scenario(plans, opening, rng))


async def _run_scenario(
    plans: list[tuple[int, str, bool, int, int | None]], opening: int, rng: random.Random
) -> None:
    wallets = InMemoryWalletRepository()
    log = InMemoryOperationLog()
    await wallets.add(open_wallet("wal_1", "usr_1", "USD", utc_now()))
    operations = WalletOperations(
        Interleaved(wallets, rng, wallets), Interleaved(log, rng, wallets)
    )
    if opening:
        await operations.settle(request(OperationKind.CREDIT, "tr_open", opening))
    pruner = MarkPruner(
        Interleaved(wallets, rng, wallets), Interleaved(log, rng, wallets), min_age_s=0
    )

    jobs: list[OperationRequest] = []
    for i, (amount, side, compensated, deliveries, began) in enumerate(plans):
        forward = OperationKind.DEBIT if side == "debit" else OperationKind.CREDIT
        kinds = [forward]
        if compensated:
            kinds.append(OperationKind.REFUND if side == "debit" else OperationKind.CANCEL_CREDIT)
        jobs += [request(k, f"tr_{i}", amount, began) for k in kinds for _ in range(deliveries)]
    rng.shuffle(jobs)

    async def prune_now_and_then() -> None:
        for _ in range(5):
            await pruner.prune_once()
            await asyncio.sleep(0)

    results = await asyncio.gather(*(operations.settle(j) for j in jobs), prune_now_and_then())
    records: list[OperationRecord] = results[:-1]

    by_operation: dict[str, set[OperationRecord]] = defaultdict(set)
    for job, record in zip(jobs, records, strict=True):
        assert record.operation_id == job.operation_id
        by_operation[job.operation_id].add(record)
    assert all(len(found) == 1 for found in by_operation.values()), "one reply per operation"

    outcome = {op: next(iter(found)).outcome for op, found in by_operation.items()}
    expected = opening
    for i, (amount, side, compensated, _, _) in enumerate(plans):
        if side == "debit":
            debited = outcome[f"tr_{i}:debit_source"] is StepOutcome.DEBITED
            if compensated:
                refunded = outcome[f"tr_{i}:refund_source"]
                # The refund returns the money exactly when the debit took it.
                assert refunded is (
                    StepOutcome.REFUNDED if debited else StepOutcome.DEBIT_CANCELLED
                )
            else:
                expected -= amount * debited
        else:
            credited = outcome[f"tr_{i}:credit_destination"] is StepOutcome.CREDITED
            expected += amount * credited
            if compensated:
                settled = outcome[f"tr_{i}:cancel_credit"]
                assert settled is (
                    StepOutcome.CREDIT_ALREADY_APPLIED if credited else StepOutcome.CREDIT_CANCELLED
                )
            else:
                assert credited  # an active wallet in the right currency takes every credit
    wallet = await wallets.get("wal_1")
    assert wallet is not None and wallet.balance == expected


def request(
    kind: OperationKind, saga: str, amount: int, issued_ms: int | None = None
) -> OperationRequest:
    step, compensates = STEPS[kind]
    return OperationRequest(
        kind=kind,
        saga_id=saga,
        step=step,
        wallet_id="wal_1",
        amount=amount,
        currency="USD",
        compensates=compensates,
        issued_ms=issued_ms,
    )
