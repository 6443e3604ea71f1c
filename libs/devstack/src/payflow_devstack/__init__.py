"""PayFlow devstack."""
