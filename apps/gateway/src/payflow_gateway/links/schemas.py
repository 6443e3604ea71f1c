"""Request bodies of the payment-link routes; strict, so that money is never a float or a string."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, field_validator

from payflow_gateway.payments.schemas import MetadataKey, MetadataValue, plain_keys


class PaymentLinkCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    wallet_id: str = Field(
        min_length=1, max_length=64, description="The caller's wallet the payments go to"
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217; the wallet's currency")
    amount: StrictInt | None = Field(
        default=None, gt=0, description="A fixed amount in minor units; absent: an open amount"
    )
    min_amount: StrictInt | None = Field(
        default=None, gt=0, description="Open amount: the least a payer may pay (default 1)"
    )
    max_amount: StrictInt | None = Field(
        default=None, gt=0, description="Open amount: the most (default: the transfer maximum)"
    )
    description: str | None = Field(default=None, max_length=500)
    expires_at: AwareDatetime | None = Field(
        default=None,
        strict=False,  # JSON has no datetime: an RFC 3339 string, parsed
        description="RFC 3339 with a timezone; payments are refused from then on",
    )
    single_use: bool = Field(default=False, description="Exactly one completed payment")
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _at_most_20_plain_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 20:
            raise ValueError("metadata holds at most 20 keys")
        return plain_keys(value)


class PaymentLinkPay(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    source_wallet_id: str = Field(min_length=1, max_length=64)
    amount: StrictInt | None = Field(
        default=None, gt=0, description="Open-amount links only: minor units to pay"
    )
