"""`make chaos`: a fault-injecting soak of the whole system with replicas, and its invariant
checker (see cli.py)."""
