"""Every exception the webhooks service defines is answered by a problem or handled inside."""

from __future__ import annotations

from payflow_service.problems import subclasses
from payflow_webhooks.domain.errors import WebhooksError
from payflow_webhooks.problems import INTERNAL, PROBLEMS


def test_every_webhooks_error_has_a_problem_or_is_handled_inside() -> None:
    unmapped = [
        k.__name__ for k in subclasses(WebhooksError) if k not in PROBLEMS and k not in INTERNAL
    ]
    assert unmapped == []


def test_no_class_is_both_answered_and_internal() -> None:
    assert not set(PROBLEMS) & INTERNAL


def test_the_problems_keep_their_codes() -> None:
    codes = {kind.__name__: (p.status, p.code) for kind, p in PROBLEMS.items()}
    assert codes["EndpointNotFound"] == (404, "webhook_endpoint_not_found")
    assert codes["DeliveryNotFound"] == (404, "delivery_not_found")
    assert codes["EventNotFound"] == (404, "event_not_found")
    assert codes["EndpointDisabled"] == (409, "webhook_endpoint_disabled")
