"""The orchestrator's exception tree: every exception it defines derives from `OrchestratorError`.

`problems.py` maps them to problem documents (or lists them as handled inside the service).
"""

from __future__ import annotations


class OrchestratorError(Exception):
    """The root of every exception the orchestrator defines."""


class IdempotencyKeyReused(OrchestratorError):
    """A known (initiator, idempotency key) arrived with a different request."""


class LinkKeyReused(IdempotencyKeyReused):
    """The same, for a request about a payment link (its problem says "request", not
    "transfer")."""


class StaleReply(OrchestratorError):
    """A reply for a step the saga no longer waits for (a duplicate or a late answer)."""


class IllegalTransition(OrchestratorError):
    """A reply that the saga's current state does not accept."""

    def __init__(self, kind: str, state: str, event: str) -> None:
        super().__init__(f"a {kind} saga in state {state} does not accept {event}")
        self.kind = kind
        self.state = state
        self.event = event


class RefundRefused(OrchestratorError):
    """The refund cannot be made; `code` is the problem code the API answers with."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class LinkRefused(OrchestratorError):
    """A payment (or a link) the rules refuse: `status` and `code` are the problem's."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


class TransferNotFound(OrchestratorError):
    pass


class RefundContention(OrchestratorError):
    """The original kept changing under concurrent refunds; the caller may retry."""


class LinkNotFound(OrchestratorError):
    pass


class LinkContention(OrchestratorError):
    """The link kept changing under concurrent payments; the caller may retry."""


class FaultRuleNotFound(OrchestratorError):
    """No fault rule of that id belongs to that owner."""
