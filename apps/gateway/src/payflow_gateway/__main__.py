"""`python -m payflow_gateway`: run the gateway service."""

from payflow_gateway.settings import GatewaySettings
from payflow_service import serve

if __name__ == "__main__":
    serve("payflow_gateway.main:create_app", "gateway", GatewaySettings())
