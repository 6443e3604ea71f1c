"""PayFlow settings."""
