"""The gateway's pure rules: users and roles, token claims, API key format. Standard library only."""
