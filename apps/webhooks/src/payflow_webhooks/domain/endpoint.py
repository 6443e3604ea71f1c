"""A webhook endpoint: where a user's events go, which types it wants, and how it signs them.

Every change returns a new frozen endpoint with `version` + 1; the store writes it with a
compare-and-set on the version it was read at.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from payflow_contracts.paging import PagePosition
from payflow_webhooks.domain.errors import InvalidEventTypes
from payflow_webhooks.domain.signatures import new_signing_secret

EVENT_TYPES: tuple[str, ...] = (
    "transfer.created",
    "transfer.completed",
    "transfer.failed",
    "transfer.refunded",
    "payment_link.paid",
)
ALL_EVENTS = "*"


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


class DisabledReason(StrEnum):
    BY_OWNER = "by_owner"
    RECEIVER_GONE = "receiver_gone"
    """The receiver answered 410 Gone."""
    FAILING_TOO_LONG = "failing_too_long"
    """Deliveries kept failing for longer than the configured limit."""


def normalize_event_types(event_types: Iterable[str]) -> tuple[str, ...]:
    """`["*"]` alone, or a non-empty set of known types (kept in their canonical order)."""
    wanted = list(event_types)
    if not wanted:
        raise InvalidEventTypes("at least one event type is required")
    if ALL_EVENTS in wanted:
        if len(set(wanted)) != 1:
            raise InvalidEventTypes('"*" cannot be combined with other event types')
        return (ALL_EVENTS,)
    unknown = sorted(set(wanted) - set(EVENT_TYPES))
    if unknown:
        raise InvalidEventTypes(
            f"unknown event types {unknown}; expected some of {list(EVENT_TYPES)} or ['*']"
        )
    return tuple(t for t in EVENT_TYPES if t in wanted)


@dataclass(frozen=True, slots=True, kw_only=True)
class RetiredSecret:
    """A secret replaced by a rotation, still signing until `expires_at`."""

    secret: str
    expires_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookEndpoint:
    id: str
    owner_id: str
    url: str
    description: str | None = None
    event_types: tuple[str, ...]
    status: EndpointStatus = EndpointStatus.ENABLED
    disabled_reason: DisabledReason | None = None
    secret: str
    retired_secrets: tuple[RetiredSecret, ...] = ()
    failing_since: datetime | None = None
    """When the first of the current run of failed attempts happened; None after a success."""
    created_at: datetime
    updated_at: datetime
    version: int = 0

    @property
    def position(self) -> PagePosition:
        """Where the endpoint stands in its owner's newest-first list."""
        return PagePosition(self.created_at, self.id)

    @property
    def enabled(self) -> bool:
        return self.status is EndpointStatus.ENABLED

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.event_types or event_type in self.event_types

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret first, then every retired one still inside its overlap window."""
        return [self.secret] + [r.secret for r in self.retired_secrets if r.expires_at > now]


def open_endpoint(
    *,
    endpoint_id: str,
    owner_id: str,
    url: str,
    event_types: Sequence[str],
    description: str | None,
    now: datetime,
) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=endpoint_id,
        owner_id=owner_id,
        url=url,
        description=description,
        event_types=normalize_event_types(event_types),
        secret=new_signing_secret(),
        created_at=now,
        updated_at=now,
    )


def rotate_secret(endpoint: WebhookEndpoint, now: datetime, overlap: timedelta) -> WebhookEndpoint:
    still_live = tuple(r for r in endpoint.retired_secrets if r.expires_at > now)
    retired = (*still_live, RetiredSecret(secret=endpoint.secret, expires_at=now + overlap))
    return replace(
        endpoint,
        secret=new_signing_secret(),
        retired_secrets=retired if overlap > timedelta(0) else still_live,
        updated_at=now,
        version=endpoint.version + 1,
    )


def change_endpoint(
    endpoint: WebhookEndpoint,
    now: datetime,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    clear_description: bool = False,
    status: EndpointStatus | None = None,
) -> WebhookEndpoint:
    """The owner's edits. Re-enabling forgets the failure history, so the endpoint starts afresh."""
    changed = replace(
        endpoint,
        url=endpoint.url if url is None else url,
        event_types=(
            endpoint.event_types if event_types is None else normalize_event_types(event_types)
        ),
        description=(
            description if description is not None or clear_description else endpoint.description
        ),
        updated_at=now,
        version=endpoint.version + 1,
    )
    if status is EndpointStatus.ENABLED and not endpoint.enabled:
        return replace(changed, status=status, disabled_reason=None, failing_since=None)
    if status is EndpointStatus.DISABLED and endpoint.enabled:
        return replace(changed, status=status, disabled_reason=DisabledReason.BY_OWNER)
    return changed
