"""The exception tree of the webhooks service: every class it defines derives from `WebhooksError`.

`problems.py` maps each class to the problem document a route answers with, or lists it as
handled inside the service (`INTERNAL`).
"""

from __future__ import annotations


class WebhooksError(Exception):
    """The root of every exception the webhooks service defines."""


# ---------------------------------------------------------------- answered by a route


class EndpointNotFound(WebhooksError):
    """No such endpoint (or not the caller's)."""


class DeliveryNotFound(WebhooksError):
    """No such delivery (or not the caller's, or its endpoint was deleted)."""


class EventNotFound(WebhooksError):
    """No such event (or not about the caller's wallets)."""


class EditConflict(WebhooksError):
    """The endpoint kept changing under the owner's edit."""


class ReplayConflict(WebhooksError):
    """The delivery kept changing under the replay."""


class EndpointDisabled(WebhooksError):
    """The delivery's endpoint is disabled: it must be enabled before a replay."""


# ---------------------------------------------------------------- handled inside the service


class InvalidEventTypes(WebhooksError, ValueError):
    """The event types an endpoint asks for are not valid (the route names the field)."""


class UrlRejected(WebhooksError, ValueError):
    """The URL can never be a webhook endpoint (bad syntax, or a private target under the guard)."""


class UrlNotAllowed(WebhooksError):
    """The URL points at a private, loopback, link-local or otherwise non-public address."""


class HostUnresolvable(WebhooksError):
    """The host name did not resolve at delivery time."""


class QuotaSpent(WebhooksError):
    """The owner's replays of this hour are used up; the next hour starts in `retry_after` s."""

    def __init__(self, per_hour: int, retry_after: int) -> None:
        super().__init__(f"{per_hour} replays per hour")
        self.per_hour = per_hour
        self.retry_after = retry_after


class DuplicateEndpoint(WebhooksError, ValueError):
    """An endpoint with this id is stored already (the in-memory twin's unique id)."""
