"""Adapters of the wallet ports: MongoDB (`mongo`) and its in-memory twin (`memory`)."""
