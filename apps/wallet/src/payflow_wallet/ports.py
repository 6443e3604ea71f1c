"""The storage ports of the wallet service: wallets and the permanent operation records.

Two implementations pass one contract suite: `adapters.mongo` (production) and
`adapters.memory` (its in-memory twin). Every write is one atomic single-document operation.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

from payflow_contracts.paging import PagePosition
from payflow_wallet.domain.operations import Guard, OperationRecord, WalletChange
from payflow_wallet.domain.wallet import Wallet, WalletStatus


class WalletRepository(Protocol):
    async def add(self, wallet: Wallet, cap: int | None = None) -> None:
        """Store a new wallet; `DuplicateWallet` if its id is taken. With `cap`, refuse with
        `QuotaExceeded` when its owner holds `cap` wallets already (exactly, under any
        concurrency)."""

    async def get(self, wallet_id: str) -> Wallet | None: ...

    async def page(
        self, owner_id: str | None, limit: int, after: PagePosition | None
    ) -> list[Wallet]:
        """Up to `limit` wallets (of `owner_id`, or all), by (created_at, id), after `after`."""

    async def set_status(
        self,
        wallet_id: str,
        status: WalletStatus,
        allowed_from: frozenset[WalletStatus],
    ) -> bool:
        """Move the wallet to `status` if its status is in `allowed_from`; False otherwise."""

    async def apply(self, wallet_id: str, guard: Guard, change: WalletChange) -> bool:
        """Apply `change` in one atomic write if `guard` holds; False (nothing written) if not.

        Every write also moves `version` and sets `updated_at` to the store's clock."""

    async def prune_marks(
        self,
        wallet_id: str,
        marks_epoch: int,
        operation_ids: Collection[str],
        pruned_through_ms: int | None,
    ) -> bool:
        """Drop these marks, bump the epoch and set `pruned_through_ms`, if the epoch is still
        `marks_epoch`."""

    async def with_marks(self, limit: int, after_id: str | None = None) -> list[Wallet]:
        """Wallets that hold marks, in id order after `after_id` (the pruner pages through)."""


class OperationLog(Protocol):
    async def find(self, operation_ids: Collection[str]) -> dict[str, OperationRecord]: ...

    async def record_all(self, records: Collection[OperationRecord]) -> None:
        """Store each record unless one with its operation id exists (that one stays), in one
        write however many there are."""

    async def record(self, record: OperationRecord) -> OperationRecord:
        """Store the record unless one with its operation id exists; return the stored one.

        The first record of an operation wins and is never replaced: it is the reply every
        repeat of the command gets."""
