"""PayFlow wallet."""
