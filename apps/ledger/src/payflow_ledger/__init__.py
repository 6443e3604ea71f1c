"""PayFlow ledger."""
