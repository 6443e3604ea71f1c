"""The wallet's pure domain: wallets, and how each saga operation is decided (no IO here)."""
