"""The ledger's adapters: `mongo` (production) and `memory` (its in-memory twin)."""
