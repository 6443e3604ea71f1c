"""The one message envelope every stream message travels in (design.md, "One message envelope").

JSON on the wire, never pickle. `payload` is a frozen pydantic model; its `MESSAGE_TYPE` names the
versioned type (`wallet.debit.v1`), which is how consumers route it.
"""

from __future__ import annotations

import builtins
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from payflow_contracts.ids import new_id


class MessagePayload(BaseModel):
    """Base of every message payload: frozen, and naming its versioned wire type."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    MESSAGE_TYPE: ClassVar[str] = ""


P = TypeVar("P", bound=MessagePayload)


def _now() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """Metadata common to every message, around a typed payload kept as plain JSON data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    message_id: str = Field(default_factory=lambda: new_id("msg"))
    type: str
    saga_id: str | None = None
    causation_id: str | None = None
    occurred_at: datetime = Field(default_factory=_now)
    traceparent: str | None = None
    tracestate: str | None = None
    payload: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: MessagePayload,
        *,
        saga_id: str | None = None,
        causation_id: str | None = None,
        traceparent: str | None = None,
        tracestate: str | None = None,
        message_id: str | None = None,
    ) -> Envelope:
        if not payload.MESSAGE_TYPE:
            raise ValueError(f"{type(payload).__name__} has no MESSAGE_TYPE")
        fields: dict[str, Any] = {
            "type": payload.MESSAGE_TYPE,
            "saga_id": saga_id,
            "causation_id": causation_id,
            "traceparent": traceparent,
            "tracestate": tracestate,
            "payload": payload.model_dump(mode="json"),
        }
        if message_id is not None:
            fields["message_id"] = message_id
        return cls(**fields)

    def open(self, model: builtins.type[P]) -> P:
        """The payload as `model`; refuses an envelope of another type."""
        if self.type != model.MESSAGE_TYPE:
            raise ValueError(f"envelope of type {self.type!r} opened as {model.MESSAGE_TYPE!r}")
        return model.model_validate(self.payload)

    def to_wire(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_wire(cls, data: str | bytes) -> Envelope:
        return cls.model_validate_json(data)
