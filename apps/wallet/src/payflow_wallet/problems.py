"""The one place where the wallet's exceptions become problem documents.

`QuotaExceeded` (payflow_service.quotas) is not in this tree: its detail names the cap, so the
route that opens wallets maps it with `quota_problem`.
"""

from __future__ import annotations

from payflow_service.problems import Problem
from payflow_wallet.domain.errors import (
    DuplicateWallet,
    WalletBusy,
    WalletClosed,
    WalletContention,
    WalletNotFound,
)

PROBLEMS: dict[type[Exception], Problem] = {
    WalletNotFound: Problem(404, "wallet_not_found", "No such wallet."),
    WalletClosed: Problem(409, "wallet_closed", "A closed wallet cannot change."),
    WalletBusy: Problem(409, "conflict", "The wallet is changing; retry."),
}

INTERNAL: frozenset[type[Exception]] = frozenset(
    {
        DuplicateWallet,  # ids are new; the stores refuse a reused one
        WalletContention,  # a command left pending for redelivery, never a route's answer
    }
)
