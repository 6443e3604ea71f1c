"""PayFlow service."""
