"""`python -m payflow_webhooks.worker`: run the webhooks-worker process."""

from payflow_service import serve
from payflow_webhooks.settings import WebhooksWorkerSettings

if __name__ == "__main__":
    serve("payflow_webhooks.worker.main:create_app", "webhooks-worker", WebhooksWorkerSettings())
