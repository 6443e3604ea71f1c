"""PayFlow gateway."""
