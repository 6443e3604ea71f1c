"""`python -m payflow_webhooks`: run the webhooks service."""

from payflow_service import serve
from payflow_webhooks.settings import WebhooksSettings

if __name__ == "__main__":
    serve("payflow_webhooks.main:create_app", "webhooks", WebhooksSettings())
