"""Authentication at the gateway: users, JWT sessions, API keys, roles. Wired in `bootstrap.py`."""
