"""Adapters of the orchestrator's ports: MongoDB, the in-memory twins, Redis."""
