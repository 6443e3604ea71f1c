"""Writes the records of decided operations and drops their marks, so a wallet document stays
small and the hot path writes nothing but the wallet.

For each wallet with marks, one round:
1. takes the marks decided at least `min_age_s` ago (a young mark stays, so that the other
   steps of its saga, issued at the same time, still find the wallet alone enough to decide
   on: see `domain.operations.needs_records`);
2. writes their records in one unordered insert (a record already there, from an earlier
   round that stopped before step 3, is left as it is: the first record wins);
3. drops those marks in one write guarded by the marks epoch read in step 1, which bumps the
   epoch and raises `pruned_through_ms` to the latest issue time among them (or makes it
   unknown if one has none).
A legacy mark (one that does not carry its record) is dropped only once its record exists.
A round that fails or is refused is retried by the next: a prune is never needed for
correctness. It runs off the hot path (`payflow_service.loops.run_periodically`).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from payflow_contracts.clock import Clock, utc_now
from payflow_service.loops import run_periodically
from payflow_wallet.domain.operations import record_from_mark
from payflow_wallet.domain.wallet import Wallet
from payflow_wallet.ports import OperationLog, WalletRepository


def pruned_through_after(wallet: Wallet, pruned: list[str]) -> int | None:
    """`pruned_through_ms` once `pruned` marks are dropped: never lower, and unknown as soon
    as one dropped mark does not say when it was issued."""
    known = wallet.pruned_through_ms
    for op in pruned:
        issued = wallet.marks[op].issued_ms
        if known is None or issued is None:
            return None
        known = max(known, issued)
    return known


class MarkPruner:
    def __init__(
        self,
        wallets: WalletRepository,
        operations: OperationLog,
        batch_size: int = 100,
        min_age_s: float = 0.0,
        clock: Clock = utc_now,
    ) -> None:
        self._wallets = wallets
        self._operations = operations
        self._batch_size = batch_size
        self._min_age = timedelta(seconds=min_age_s)
        self._clock = clock
        self._after_id: str | None = None

    async def prune_once(self) -> int:
        """Record and prune the old enough marks of one batch of wallets; return how many
        marks were dropped."""
        pruned = 0
        batch = await self._wallets.with_marks(self._batch_size, self._after_id)
        # Page through every marked wallet in turn, so wallets whose marks cannot be pruned yet
        # never starve the others; start over after the last page.
        self._after_id = batch[-1].id if len(batch) == self._batch_size else None
        for wallet in batch:
            due = await self._due(wallet)
            if due and await self._wallets.prune_marks(
                wallet.id, wallet.marks_epoch, due, pruned_through_after(wallet, due)
            ):
                pruned += len(due)
        return pruned

    async def _due(self, wallet: Wallet) -> list[str]:
        cutoff = self._clock() - self._min_age
        carried = {
            op: mark
            for op, mark in wallet.marks.items()
            if mark.carries_record and mark.decided_at is not None and mark.decided_at <= cutoff
        }
        if carried:
            await self._operations.record_all(
                [record_from_mark(wallet.id, op, mark) for op, mark in carried.items()]
            )
        legacy = [op for op, mark in wallet.marks.items() if not mark.carries_record]
        # A legacy mark without its record is a decision still being recorded: it must stay.
        recorded = await self._operations.find(legacy) if legacy else {}
        return [*carried, *(op for op in legacy if op in recorded)]

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await run_periodically(
            self.prune_once, interval_s=interval_s, stop=stop, what="pruning wallet marks"
        )
