"""The old home of the reconciliation route: see `payflow_gateway.payments`."""

from payflow_gateway.api.admin import reconciliation

__all__ = ["reconciliation"]
