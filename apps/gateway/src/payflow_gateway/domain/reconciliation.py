"""Money conservation per currency, as reconciliation checks it on a live system.

Every minor unit in PayFlow came from a top-up: the ledger's `funding:<CUR>` account is minus the
top-ups it funded. Once no saga is in flight, what the wallets hold plus the platform's fees
(`fees:<CUR>`) equals what was funded, currency by currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FUNDING_PREFIX = "funding:"
FEES_PREFIX = "fees:"


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    wallets: int
    """The sum of the wallet service's balances in this currency."""
    fees: int
    """The platform's fee account in the ledger."""
    funded: int
    """The top-ups funded (minus the funding account's balance)."""

    @property
    def conserved(self) -> bool:
        return self.wallets + self.fees == self.funded


def currency_totals(
    wallets: Iterable[tuple[str, int]], system_accounts: Mapping[str, int]
) -> list[CurrencyTotals]:
    """`wallets`: (currency, balance) of every wallet; `system_accounts`: the ledger's funding
    and fee accounts by id. One line per currency seen, in currency order."""
    held: dict[str, int] = {}
    for currency, balance in wallets:
        held[currency] = held.get(currency, 0) + balance
    fees: dict[str, int] = {}
    funded: dict[str, int] = {}
    for account, balance in system_accounts.items():
        if account.startswith(FEES_PREFIX):
            fees[account.removeprefix(FEES_PREFIX)] = balance
        elif account.startswith(FUNDING_PREFIX):
            funded[account.removeprefix(FUNDING_PREFIX)] = -balance
    currencies = sorted(set(held) | set(fees) | set(funded))
    return [CurrencyTotals(c, held.get(c, 0), fees.get(c, 0), funded.get(c, 0)) for c in currencies]
