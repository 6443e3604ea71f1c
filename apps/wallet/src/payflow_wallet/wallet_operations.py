"""Saga operations on wallets (debit, credit, refund, cancel credit), each at most once.

How one operation is settled, and why it is safe:
1. Read the wallet (its balance, status, marks and `marks_epoch`), THEN the operation records
   of the operation and of the step it compensates.
2. Decide (pure domain). Either the verdict is already known (a record, or a mark in the
   wallet), or the decision is written as ONE guarded update of the wallet that changes the
   balance and sets the operation's mark together. The guard holds the epoch read in step 1
   and the absence of the marks being set, so of any number of concurrent deliveries exactly
   one write succeeds; the others miss, read again, and find the mark.
3. Record the verdict in `wallet_operations` (unique id = operation id; the first record wins
   and is the reply every repeat gets). Marks are pruned later, only once recorded, and a prune
   bumps the epoch: a decision read before a prune (which might no longer see a pruned mark)
   can therefore never be written. That is why the wallet is read before the records.
A crash at any point leaves either nothing, or a mark (the decision, replayed on redelivery),
or a mark and its record.
"""

from __future__ import annotations

from collections.abc import Mapping

from payflow_contracts.clock import Clock, utc_now
from payflow_wallet.domain.errors import WalletContention
from payflow_wallet.domain.operations import (
    Decide,
    OperationRecord,
    OperationRequest,
    RecordOnly,
    Settled,
    applied,
    decide,
    record_of,
)
from payflow_wallet.domain.wallet import Verdict, Wallet
from payflow_wallet.ports import OperationLog, WalletRepository


class WalletOperations:
    def __init__(
        self,
        wallets: WalletRepository,
        operations: OperationLog,
        max_attempts: int = 64,
        remembered_capacity: int = 50_000,
        clock: Clock = utc_now,
    ) -> None:
        self._wallets = wallets
        self._clock = clock
        self._operations = operations
        self._max_attempts = max_attempts
        # Each wallet as this process last read or wrote it. Using it stands for a read made
        # earlier, so it still comes before the records (step 1); if it is stale (another
        # replica, a status change, a prune), the guard of the write refuses, and the next
        # attempt reads the store.
        self._remembered: dict[str, Wallet] = {}
        self._capacity = remembered_capacity

    async def settle(self, request: OperationRequest) -> OperationRecord:
        """Decide and apply `request` once, however often it is called; return its record."""
        remembered = self._remembered.pop(request.wallet_id, None)
        for _ in range(self._max_attempts):
            wallet, remembered = remembered, None
            if wallet is None:
                wallet = await self._wallets.get(request.wallet_id)  # before the records
            recorded = await self._operations.find(request.operation_ids)
            if request.operation_id in recorded:
                return recorded[request.operation_id]
            decision = decide(request, wallet, {op: r.verdict for op, r in recorded.items()})
            match decision:
                case Settled(verdict):
                    return await self._record(request, verdict, wallet)
                case Decide(verdict, change, guard):
                    assert wallet is not None
                    if await self._wallets.apply(wallet.id, guard, change):
                        self._remember(applied(wallet, change))
                        return await self._record(request, verdict, wallet, change.marks)
                case RecordOnly(verdicts):
                    settled = await self._record_without_wallet(request, verdicts)
                    if settled is not None:
                        return settled
        raise WalletContention(request.operation_id)

    def _remember(self, wallet: Wallet) -> None:
        if len(self._remembered) >= self._capacity:
            self._remembered.pop(next(iter(self._remembered)))
        self._remembered[wallet.id] = wallet

    async def _record(
        self,
        request: OperationRequest,
        verdict: Verdict,
        wallet: Wallet | None,
        new_marks: Mapping[str, Verdict] | None = None,
    ) -> OperationRecord:
        now = self._clock()
        # A compensation that settled its step as cancelled records that tombstone first, so
        # the pruner can drop both marks and a late step still finds its verdict.
        target = request.target_operation_id
        marks = dict(wallet.marks) if wallet else {}
        marks.update(new_marks or {})
        if target is not None and marks.get(target) is Verdict.CANCELLED:
            await self._operations.record(record_of(request, target, Verdict.CANCELLED, now))
        return await self._operations.record(record_of(request, request.operation_id, verdict, now))

    async def _record_without_wallet(
        self, request: OperationRequest, verdicts: tuple[tuple[str, Verdict], ...]
    ) -> OperationRecord | None:
        now = self._clock()
        stored: OperationRecord | None = None
        for op, verdict in verdicts:
            stored = await self._operations.record(record_of(request, op, verdict, now))
            if stored.verdict is not verdict:
                return None  # another verdict got there first: decide again
        assert stored is not None and stored.operation_id == request.operation_id
        return stored
