"""Reconciliation's money conservation per currency: wallets + fees = top-ups funded."""

from __future__ import annotations

from payflow_gateway.domain.reconciliation import CurrencyTotals, currency_totals


def test_wallets_plus_fees_equal_what_was_funded_per_currency() -> None:
    totals = currency_totals(
        [("USD", 941), ("USD", 9_000), ("EUR", 300)],
        {"funding:USD": -10_000, "fees:USD": 59, "funding:EUR": -300},
    )
    assert totals == [CurrencyTotals("EUR", 300, 0, 300), CurrencyTotals("USD", 9_941, 59, 10_000)]
    assert all(t.conserved for t in totals)


def test_a_missing_minor_unit_is_not_conserved() -> None:
    [usd] = currency_totals([("USD", 9_940)], {"funding:USD": -10_000, "fees:USD": 59})
    assert not usd.conserved


def test_a_fee_account_without_any_wallet_still_shows() -> None:
    assert currency_totals([], {"fees:GBP": 5}) == [CurrencyTotals("GBP", 0, 5, 0)]
