"""The one mapping from the orchestrator's exceptions to problem documents.

Routes let these exceptions propagate; `create_service_app(problems=PROBLEMS)` answers them.
A refusal whose status, code or detail is decided at run time (`LinkRefused`, `RefundRefused`)
is answered by its route with a `ProblemError` and is listed in `INTERNAL` with the classes
that never leave the service.
"""

from __future__ import annotations

from payflow_orchestrator.domain.errors import (
    FaultRuleNotFound,
    IdempotencyKeyReused,
    IllegalTransition,
    LinkContention,
    LinkKeyReused,
    LinkNotFound,
    LinkRefused,
    RefundContention,
    RefundRefused,
    StaleReply,
    TransferNotFound,
)
from payflow_orchestrator.ports import DuplicateLink, DuplicateTransfer
from payflow_service.problems import Problem

PROBLEMS: dict[type[Exception], Problem] = {
    TransferNotFound: Problem(404, "transfer_not_found", "No such transfer."),
    IdempotencyKeyReused: Problem(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key already made a different transfer.",
    ),
    LinkKeyReused: Problem(
        422,
        "idempotency_key_reused",
        "This Idempotency-Key already made a different request.",
    ),
    RefundContention: Problem(
        409, "conflict", "The transfer kept changing under concurrent refunds; retry."
    ),
    LinkNotFound: Problem(404, "payment_link_not_found", "No such payment link."),
    LinkContention: Problem(
        409, "conflict", "The payment link kept changing under concurrent payments; retry."
    ),
    FaultRuleNotFound: Problem(404, "fault_rule_not_found", "No such fault rule."),
}

INTERNAL: frozenset[type[Exception]] = frozenset(
    {
        # Answered by their routes with the status, code and detail they carry.
        LinkRefused,
        RefundRefused,
        # Handled by the coordinator, the stream consumer or the use cases.
        StaleReply,
        IllegalTransition,
        DuplicateTransfer,
        DuplicateLink,
    }
)
