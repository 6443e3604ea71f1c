"""Settings of the wallet service (`PAYFLOW_*` variables)."""

from __future__ import annotations

from pydantic import Field

from payflow_settings import BusSettings


class WalletSettings(BusSettings):
    service_name: str = "wallet"
    command_concurrency: int = Field(default=16, ge=1)
    """Wallet commands handled at once by this process (they may hit the same wallet)."""
    operation_max_attempts: int = Field(default=64, ge=1)
    """Read-decide-write rounds of one operation before it is left for redelivery."""
    mark_prune_interval_s: float = Field(default=5.0, gt=0)
    """How often the mark pruner records and drops old marks."""
    mark_min_age_s: float = Field(default=1.0, ge=0)
    """How long a mark stays at least: while it does, the other steps of its saga (issued at
    the same time) are decided from the wallet alone, without reading the operation records."""
    mark_crowd: int = Field(default=64, ge=1)
    """A wallet written with this many marks is pruned soon after, not at the next round (a busy
    wallet's document stays small: every write rewrites it whole)."""
    max_wallets_per_user: int = Field(default=10, ge=1)
    """Wallets one owner may hold (the default wallet of registration included); one more is
    refused with 409 `quota_exceeded`, exactly, however many are opened at once."""
