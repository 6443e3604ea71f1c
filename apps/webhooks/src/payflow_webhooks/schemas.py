"""The request and response models of the internal API (the gateway passes the answers on as
they are, so these are the public shapes too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from payflow_webhooks.domain.delivery import Attempt, Delivery, DeliveryStatus
from payflow_webhooks.domain.endpoint import DisabledReason, EndpointStatus, WebhookEndpoint
from payflow_webhooks.domain.event import WebhookEvent

Moment = Annotated[datetime, AfterValidator(lambda moment: moment.astimezone(UTC))]
"""A time as the API shows it: RFC 3339 in UTC (`...Z`)."""


# ---------------------------------------------------------------- requests


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048)
    event_types: list[str] = Field(min_length=1, max_length=10)
    description: str | None = Field(default=None, max_length=500)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=10)
    description: str | None = Field(default=None, max_length=500)
    status: EndpointStatus | None = None


# ---------------------------------------------------------------- endpoints


class EndpointResource(BaseModel):
    """A webhook endpoint (never its secret: that is shown on creation and rotation only)."""

    id: str
    url: str
    event_types: list[str]
    status: EndpointStatus
    description: str | None
    disabled_reason: DisabledReason | None
    created_at: Moment
    updated_at: Moment

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointResource:
        return cls(**_endpoint_fields(endpoint))


class EndpointCreated(EndpointResource):
    """A new endpoint with its signing `secret`, shown only here."""

    secret: str

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> EndpointCreated:
        return cls(**_endpoint_fields(endpoint), secret=endpoint.secret)


def _endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "status": endpoint.status,
        "description": endpoint.description,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


class RotatedSecret(BaseModel):
    secret: str


class EndpointPage(BaseModel):
    data: list[EndpointResource]
    next_cursor: str | None


# ---------------------------------------------------------------- deliveries


class AttemptResource(BaseModel):
    at: Moment
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptResource:
        return cls(
            at=attempt.at,
            status_code=attempt.status_code,
            duration_ms=attempt.duration_ms,
            error=attempt.error,
            response_body=attempt.response_body,
        )


class DeliveryResource(BaseModel):
    """A delivery of one event to one endpoint, with every attempt (oldest first)."""

    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: list[AttemptResource]
    next_attempt_at: Moment | None
    last_error: str | None
    created_at: Moment
    updated_at: Moment

    @classmethod
    def of(cls, delivery: Delivery, attempts: list[Attempt]) -> DeliveryResource:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            status=delivery.status,
            attempts=[
                AttemptResource.of(a) for a in sorted(attempts, key=lambda a: (a.at, a.number))
            ],
            next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
        )


class DeliveryPage(BaseModel):
    data: list[DeliveryResource]
    next_cursor: str | None


# ---------------------------------------------------------------- events


class EventResource(BaseModel):
    """An event: the same `{id, type, created_at, data}` every delivery of it carries."""

    id: str
    type: str
    created_at: Moment
    data: dict[str, Any]

    @classmethod
    def of(cls, event: WebhookEvent) -> EventResource:
        return cls(id=event.id, type=event.type, created_at=event.created_at, data=event.data)


class EventPage(BaseModel):
    data: list[EventResource]
    next_cursor: str | None
