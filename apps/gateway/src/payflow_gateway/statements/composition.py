"""The CSV download routes. No adapters of their own: they read through the wallet components
and the payment services wired by the other modules. Listed before the payments module so that
`/v1/transfers/export.csv` is matched before `/v1/transfers/{transfer_id}`."""

from __future__ import annotations

from payflow_gateway.modules import GatewayModule
from payflow_gateway.statements.api import router


def statements_module() -> GatewayModule:
    return GatewayModule(routers=[router])
