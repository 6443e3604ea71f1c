"""The one mapping from the webhooks exception tree (domain/errors.py) to problem documents."""

from __future__ import annotations

from payflow_service.problems import Problem
from payflow_webhooks.domain.errors import (
    DeliveryNotFound,
    DuplicateEndpoint,
    EditConflict,
    EndpointDisabled,
    EndpointNotFound,
    EventNotFound,
    HostUnresolvable,
    InvalidEventTypes,
    QuotaSpent,
    ReplayConflict,
    UrlNotAllowed,
    UrlRejected,
)

PROBLEMS: dict[type[Exception], Problem] = {
    EndpointNotFound: Problem(404, "webhook_endpoint_not_found", "No such webhook endpoint."),
    DeliveryNotFound: Problem(404, "delivery_not_found", "No such delivery."),
    EventNotFound: Problem(404, "event_not_found", "No such event."),
    EditConflict: Problem(409, "conflict", "The endpoint changed meanwhile; retry."),
    ReplayConflict: Problem(409, "conflict", "The delivery changed meanwhile; retry."),
    EndpointDisabled: Problem(
        409,
        "webhook_endpoint_disabled",
        "The delivery's endpoint is disabled; enable it before replaying.",
    ),
}

INTERNAL: frozenset[type[Exception]] = frozenset(
    {
        # Answered by the routes with the field they concern (`errors`), or a Retry-After.
        InvalidEventTypes,
        UrlRejected,
        UrlNotAllowed,
        QuotaSpent,
        # A delivery attempt's outcome (the sender records it), never a request's.
        HostUnresolvable,
        # The in-memory twin's unique id (the MongoDB adapter's is a DuplicateKeyError).
        DuplicateEndpoint,
    }
)
