"""Authentication at the gateway: users, JWT sessions, API keys, roles. Wiring: `auth.composition`."""
