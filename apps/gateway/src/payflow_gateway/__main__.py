"""`python -m payflow_gateway`: run the gateway service."""

import sys

from pydantic import ValidationError

from payflow_gateway.settings import GatewaySettings
from payflow_service import serve


def refusals(invalid: ValidationError) -> str:
    """One line per refused setting: `PAYFLOW_BCRYPT_ROUNDS: Input should be ...`."""
    lines = []
    for error in invalid.errors():
        message = str(error["msg"]).removeprefix("Value error, ")
        field = "_".join(str(part) for part in error["loc"]).upper()
        lines.append(f"PAYFLOW_{field}: {message}" if field else message)
    return "; ".join(lines)


if __name__ == "__main__":
    try:
        settings = GatewaySettings()
    except ValidationError as invalid:
        # The operator's error, not a bug: said plainly, without a traceback.
        sys.exit(f"gateway: not started: {refusals(invalid)}")
    serve("payflow_gateway.main:create_app", "gateway", settings)
