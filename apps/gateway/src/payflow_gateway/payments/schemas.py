"""Request bodies of the payment routes; strict so that money is never a float or a string."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints, field_validator

from payflow_contracts.text import UnicodeText, field_name

MetadataKey = Annotated[str, StringConstraints(min_length=1, max_length=40)]
MetadataValue = Annotated[UnicodeText, StringConstraints(max_length=500)]


def plain_keys(metadata: dict[str, str]) -> dict[str, str]:
    """Refuses keys that cannot be document field names downstream: with `$` (an operator), `.`
    (a walk into a sub-document), a NUL, or an unpaired surrogate (payflow_contracts.text)."""
    refused: list[str] = []
    for key in metadata:
        try:
            field_name(key)
        except ValueError:
            refused.append(repr(key))
    if refused:
        raise ValueError(
            "metadata keys must be text without '$', '.' or NUL characters: "
            + ", ".join(sorted(refused))
        )
    return metadata


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    source_wallet_id: str = Field(min_length=1, max_length=64)
    destination_wallet_id: str = Field(min_length=1, max_length=64)
    amount: StrictInt = Field(gt=0, description="Minor units (cents); a JSON integer")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case")
    description: str | None = Field(default=None, max_length=500)
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _at_most_20_plain_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20:
            raise ValueError("metadata holds at most 20 keys")
        return plain_keys(value)


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount: StrictInt | None = Field(
        default=None,
        gt=0,
        description="Minor units to return; absent: all that is left to refund",
    )


class TopUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount: StrictInt = Field(gt=0, description="Minor units (cents); a JSON integer")


class FaultCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: Literal["debit", "ledger", "credit"]
    mode: Literal["reject", "error", "timeout"]
    rate: float = Field(default=1.0, ge=0, le=1)
    match_metadata: dict[str, UnicodeText] = Field(default_factory=dict)

    @field_validator("match_metadata")
    @classmethod
    def _plain_keys(cls, value: dict[str, str]) -> dict[str, str]:
        return plain_keys(value)


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[dict[str, str]] | None = None
    trace_id: str | None = None


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json answers."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in (*statuses, 401)
    }
