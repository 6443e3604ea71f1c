"""Wallet routes of the public API, served from the wallet and ledger services' internal APIs."""
