"""PayFlow observability."""
