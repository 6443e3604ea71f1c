"""Orchestrator domain: the pure saga state machine and the diagram drawn from it."""
