"""In-memory twins of the wallet ports, for fast tests; they pass the same contract suite.

Each method does its check and its write without awaiting in between, which is what makes
them atomic on one event loop, as a single-document write is in MongoDB.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from payflow_contracts.clock import utc_now
from payflow_contracts.paging import PagePosition
from payflow_service.quotas import QuotaExceeded
from payflow_wallet.domain.errors import DuplicateWallet
from payflow_wallet.domain.operations import Guard, OperationRecord, WalletChange
from payflow_wallet.domain.wallet import Wallet, WalletStatus


class InMemoryWalletRepository:
    def __init__(self) -> None:
        self._wallets: dict[str, Wallet] = {}

    async def add(self, wallet: Wallet, cap: int | None = None) -> None:
        if wallet.marks:
            raise ValueError("a new wallet holds no marks")
        if wallet.id in self._wallets:
            raise DuplicateWallet(wallet.id)
        held = sum(1 for w in self._wallets.values() if w.owner_id == wallet.owner_id)
        if cap is not None and held >= cap:
            raise QuotaExceeded(cap)
        self._wallets[wallet.id] = wallet

    async def get(self, wallet_id: str) -> Wallet | None:
        return self._wallets.get(wallet_id)

    async def page(
        self, owner_id: str | None, limit: int, after: PagePosition | None
    ) -> list[Wallet]:
        chosen = sorted(
            (w for w in self._wallets.values() if owner_id is None or w.owner_id == owner_id),
            key=lambda w: PagePosition(w.created_at, w.id),
        )
        if after is not None:
            chosen = [w for w in chosen if PagePosition(w.created_at, w.id) > after]
        return chosen[:limit]

    async def set_status(
        self,
        wallet_id: str,
        status: WalletStatus,
        allowed_from: frozenset[WalletStatus],
    ) -> bool:
        wallet = self._wallets.get(wallet_id)
        if wallet is None or wallet.status not in allowed_from:
            return False
        self._wallets[wallet_id] = replace(
            wallet, status=status, updated_at=utc_now(), version=wallet.version + 1
        )
        return True

    async def apply(self, wallet_id: str, guard: Guard, change: WalletChange) -> bool:
        wallet = self._wallets.get(wallet_id)
        if wallet is None or not guard.holds(wallet):
            return False
        self._wallets[wallet_id] = replace(
            wallet,
            balance=wallet.balance + change.balance_delta,
            marks={**wallet.marks, **change.marks},
            version=wallet.version + 1,
            updated_at=utc_now(),
        )
        return True

    async def prune_marks(
        self,
        wallet_id: str,
        marks_epoch: int,
        operation_ids: Collection[str],
        pruned_through_ms: int | None,
    ) -> bool:
        if not operation_ids:
            return True
        wallet = self._wallets.get(wallet_id)
        if (
            wallet is None
            or wallet.marks_epoch != marks_epoch
            or any(op not in wallet.marks for op in operation_ids)
        ):
            return False
        self._wallets[wallet_id] = replace(
            wallet,
            marks={op: v for op, v in wallet.marks.items() if op not in operation_ids},
            marks_epoch=marks_epoch + 1,
            pruned_through_ms=pruned_through_ms,
        )
        return True

    async def with_marks(self, limit: int, after_id: str | None = None) -> list[Wallet]:
        marked = sorted((w for w in self._wallets.values() if w.marks), key=lambda w: w.id)
        return [w for w in marked if after_id is None or w.id > after_id][:limit]


class InMemoryOperationLog:
    def __init__(self) -> None:
        self._records: dict[str, OperationRecord] = {}

    async def find(self, operation_ids: Collection[str]) -> dict[str, OperationRecord]:
        return {op: self._records[op] for op in operation_ids if op in self._records}

    async def record_all(self, records: Collection[OperationRecord]) -> None:
        for record in records:
            self._records.setdefault(record.operation_id, record)

    async def record(self, record: OperationRecord) -> OperationRecord:
        return self._records.setdefault(record.operation_id, record)
