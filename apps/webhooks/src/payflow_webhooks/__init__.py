"""PayFlow webhooks."""
