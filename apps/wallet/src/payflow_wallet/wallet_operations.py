"""Saga operations on wallets (debit, credit, refund, cancel credit), each at most once.

How one operation is settled, and why it is safe:
1. Read the wallet (its balance, status, marks, `marks_epoch` and `pruned_through_ms`); a
   wallet this process wrote last stands for that read.
2. If the operation was issued after every mark ever pruned from the wallet
   (`domain.operations.needs_records` is False), the wallet alone says whether it, or the
   step it compensates, was decided: their marks are there or they never were. Otherwise
   read the operation records of both too, AFTER the wallet.
3. Decide (pure domain). Either the verdict is already known (a mark or a record), or the
   decision is written as ONE guarded update of the wallet that changes the balance and sets
   the operation's mark, which carries everything its record needs. The guard holds the
   absence of the marks being set, so of any number of concurrent deliveries exactly one write
   succeeds; the others miss, read again, and find the mark. It also holds what step 2 relied
   on: that `pruned_through_ms` is still below the operation's issue time, or (when the
   records were read) that the marks epoch, which every prune bumps, is still the one read
   before the records. A decision that might have missed a pruned mark is never written.
4. Reply. Nothing else is written on the path: the mark pruner (`mark_pruner`) writes the
   records of marks old enough, then drops those marks in one guarded write that bumps the
   epoch and raises `pruned_through_ms`.
A crash at any point leaves either nothing, or a mark (the decision, replayed on redelivery),
or a mark and its record (the pruner's insert is repeated harmlessly), or the record alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

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
    needs_records,
    record_from_mark,
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
        on_marked: Callable[[str, int], None] | None = None,
    ) -> None:
        self._wallets = wallets
        self._on_marked = on_marked
        """Told how many marks each decision added to which wallet (the pruner counts them)."""
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
        op = request.operation_id
        for _ in range(self._max_attempts):
            wallet, remembered = remembered, None
            if wallet is None:
                wallet = await self._wallets.get(request.wallet_id)  # before the records
            recorded: dict[str, OperationRecord] = {}
            if needs_records(request, wallet):
                recorded = await self._operations.find(request.operation_ids)
                if op in recorded:
                    return recorded[op]
            now = self._clock()
            decision = decide(request, wallet, {o: r.verdict for o, r in recorded.items()}, now)
            match decision:
                case Settled(verdict):
                    assert wallet is not None  # a verdict known without a record is a mark
                    self._remember(wallet)
                    mark = wallet.marks[op]
                    if mark.carries_record:
                        return record_from_mark(wallet.id, op, mark)
                    return await self._record_legacy(request, verdict, wallet)
                case Decide(verdict, change, guard):
                    assert wallet is not None
                    if await self._wallets.apply(wallet.id, guard, change):
                        # Remembered with the marks of this write only: older ones may be
                        # pruned by now, and a mark missing here only makes a duplicate's
                        # guard miss and read the store (it would grow without bound else).
                        self._remember(replace(applied(wallet, change), marks=change.marks))
                        if self._on_marked is not None:
                            self._on_marked(wallet.id, len(change.marks))
                        return record_of(request, op, verdict, now)
                case RecordOnly(verdicts):
                    settled = await self._record_without_wallet(request, verdicts)
                    if settled is not None:
                        return settled
        raise WalletContention(op)

    def _remember(self, wallet: Wallet) -> None:
        if len(self._remembered) >= self._capacity:
            self._remembered.pop(next(iter(self._remembered)))
        self._remembered[wallet.id] = wallet

    async def _record_legacy(
        self, request: OperationRequest, verdict: Verdict, wallet: Wallet
    ) -> OperationRecord:
        """A mark written before marks carried their record: record it (first record wins), as
        was done then, so that the pruner may drop it. A compensation that settled its step as
        cancelled records that tombstone first."""
        now = self._clock()
        target = request.target_operation_id
        if target is not None and wallet.verdict_of(target) is Verdict.CANCELLED:
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
