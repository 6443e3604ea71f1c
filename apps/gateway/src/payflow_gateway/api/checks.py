"""Pre-checks of request values against the settings (the transfer maximum, the supported
currencies): 422 `validation_error` with the field, like a refused body."""

from __future__ import annotations

from payflow_gateway.settings import GatewaySettings
from payflow_service import ProblemError


def check_amount(amount: int, settings: GatewaySettings) -> None:
    if amount > settings.max_transfer_amount:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[
                {
                    "loc": "body.amount",
                    "msg": f"amount must be at most {settings.max_transfer_amount} minor units",
                }
            ],
        )


def check_currency(currency: str, settings: GatewaySettings) -> None:
    if currency not in settings.currency_list:
        raise ProblemError(
            422,
            "validation_error",
            "The request is not valid.",
            errors=[
                {
                    "loc": "body.currency",
                    "msg": f"currency must be one of {', '.join(settings.currency_list)}",
                }
            ],
        )
