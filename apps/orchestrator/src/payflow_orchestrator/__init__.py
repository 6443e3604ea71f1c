"""PayFlow orchestrator."""
