"""PayFlow messaging."""
