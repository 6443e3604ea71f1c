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

A busy wallet would grow between rounds (every write rewrites the whole document, and a mark
carries its record), so a wallet that this process has given `crowd` marks since it last pruned
it is also pruned on its own soon after (`note`), at most once per `crowd_pause_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from payflow_contracts.clock import Clock, utc_now
from payflow_service.loops import run_periodically
from payflow_wallet.domain.operations import record_from_mark
from payflow_wallet.domain.wallet import Wallet
from payflow_wallet.ports import OperationLog, WalletRepository

logger = logging.getLogger(__name__)

_COUNTED_WALLETS = 100_000
"""At most this many wallets' mark counts are kept (`MarkPruner.note`)."""


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
        crowd: int = 64,
        crowd_pause_s: float = 0.25,
    ) -> None:
        self._wallets = wallets
        self._operations = operations
        self._batch_size = batch_size
        self._min_age = timedelta(seconds=min_age_s)
        self._clock = clock
        self._after_id: str | None = None
        self._crowd = crowd
        self._crowd_pause_s = crowd_pause_s
        self._added: dict[str, int] = {}
        self._crowded: set[str] = set()
        self._wake = asyncio.Event()

    def note(self, wallet_id: str, marks_added: int) -> None:
        """A decision added `marks_added` marks to the wallet: once this process has added
        `crowd` since it last pruned the wallet, prune it soon."""
        if len(self._added) >= _COUNTED_WALLETS:
            self._added.clear()  # bounded: a count lost only delays one wallet's prune a round
        added = self._added.get(wallet_id, 0) + marks_added
        if added < self._crowd:
            self._added[wallet_id] = added
            return
        self._added.pop(wallet_id, None)
        self._crowded.add(wallet_id)
        self._wake.set()

    async def prune_crowded(self) -> int:
        """Prune the wallets `note` found crowded; return how many marks were dropped."""
        pruned = 0
        for wallet_id in sorted(self._crowded):
            self._crowded.discard(wallet_id)
            wallet = await self._wallets.get(wallet_id)
            if wallet is not None:
                pruned += await self._prune(wallet)
        return pruned

    async def prune_once(self) -> int:
        """Record and prune the old enough marks of one batch of wallets; return how many
        marks were dropped."""
        pruned = 0
        batch = await self._wallets.with_marks(self._batch_size, self._after_id)
        # Page through every marked wallet in turn, so wallets whose marks cannot be pruned yet
        # never starve the others; start over after the last page.
        self._after_id = batch[-1].id if len(batch) == self._batch_size else None
        for wallet in batch:
            pruned += await self._prune(wallet)
        return pruned

    async def _prune(self, wallet: Wallet) -> int:
        due = await self._due(wallet)
        if due and await self._wallets.prune_marks(
            wallet.id, wallet.marks_epoch, due, pruned_through_after(wallet, due)
        ):
            return len(due)
        return 0

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
        await asyncio.gather(
            run_periodically(
                self.prune_once, interval_s=interval_s, stop=stop, what="pruning wallet marks"
            ),
            self._run_crowded(stop),
        )

    async def _run_crowded(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            woken = asyncio.ensure_future(self._wake.wait())
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({woken, stopped}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            stopped.cancel()
            if stop.is_set():
                return
            self._wake.clear()
            try:
                await self.prune_crowded()
            except Exception:  # the next note (or the periodic round) retries
                logger.exception("pruning crowded wallets failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._crowd_pause_s)
