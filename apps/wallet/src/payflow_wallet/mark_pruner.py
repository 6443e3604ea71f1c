"""Drops wallet marks whose operation is recorded, so a wallet document stays small.

A prune is one guarded write per wallet that also bumps `marks_epoch`; it runs off the hot
path (`payflow_service.loops.run_periodically`), batched per wallet, so concurrent operations
on a wallet rarely have to decide again. A failed round is retried by the next: a prune is
never needed for correctness.
"""

from __future__ import annotations

import asyncio

from payflow_service.loops import run_periodically
from payflow_wallet.ports import OperationLog, WalletRepository


class MarkPruner:
    def __init__(
        self, wallets: WalletRepository, operations: OperationLog, batch_size: int = 100
    ) -> None:
        self._wallets = wallets
        self._operations = operations
        self._batch_size = batch_size
        self._after_id: str | None = None

    async def prune_once(self) -> int:
        """Prune the recorded marks of one batch of wallets; return how many were dropped."""
        pruned = 0
        batch = await self._wallets.with_marks(self._batch_size, self._after_id)
        # Page through every marked wallet in turn, so wallets whose marks cannot be pruned yet
        # never starve the others; start over after the last page.
        self._after_id = batch[-1].id if len(batch) == self._batch_size else None
        for wallet in batch:
            recorded = await self._operations.find(list(wallet.marks))
            # A mark without its record is a decision still being recorded: it must stay.
            settled = [op for op in wallet.marks if op in recorded]
            if settled and await self._wallets.prune_marks(wallet.id, wallet.marks_epoch, settled):
                pruned += len(settled)
        return pruned

    async def run(self, interval_s: float, stop: asyncio.Event) -> None:
        await run_periodically(
            self.prune_once, interval_s=interval_s, stop=stop, what="pruning wallet marks"
        )
