"""The gateway's adapters: `mongo` (its own collections), `redis` (idempotency, remembered users,
budgets, lockout, stream leases), `http` (the services behind it) and `memory` (in-memory twins)."""
