"""Payments at the gateway: transfers, top-ups, the live transfer stream, sandbox faults and
reconciliation. Sagas run in the orchestrator; the gateway authenticates, pre-checks, and makes
each `Idempotency-Key` produce exactly one transfer. Wiring: `payments.composition`."""
