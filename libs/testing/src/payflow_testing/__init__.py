"""PayFlow testing."""
