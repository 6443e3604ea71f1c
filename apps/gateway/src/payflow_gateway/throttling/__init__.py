"""Rate limits, login lockout and the cap on open transfer streams, all kept in Redis so that
they hold across gateway replicas (docs/phases/PHASE-8-HARDENING.md)."""
