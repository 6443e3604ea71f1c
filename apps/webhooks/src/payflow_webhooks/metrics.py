"""Business metrics of webhook delivery (names are what the dashboards and alerts use)."""

from prometheus_client import Counter, Histogram

DELIVERIES = Counter(
    "payflow_webhook_deliveries",
    "Delivery outcomes: succeeded, failed (schedule spent), retrying, disabled (endpoint off)",
    ["outcome"],
)
ATTEMPTS = Counter(
    "payflow_webhook_attempts",
    "HTTP attempts by result: success, http_4xx, http_5xx, timeout, network_error, blocked",
    ["result"],
)
DELIVERY_LATENCY = Histogram(
    "payflow_webhook_delivery_latency_seconds",
    "From the event's creation to the delivery's success",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000, 86400),
)
EVENTS_RECEIVED = Counter(
    "payflow_webhook_events_received", "Domain events consumed, by type", ["type"]
)
DELIVERIES_OPENED = Counter(
    "payflow_webhook_deliveries_opened", "Deliveries opened (one per event and endpoint)"
)
BUSY_DEFERRALS = Counter(
    "payflow_webhook_busy_deferrals",
    "Jobs that found their endpoint or owner at its share of the worker's slots and waited",
)
REENQUEUED = Counter(
    "payflow_webhook_deliveries_reenqueued",
    "Pending deliveries whose job was gone, enqueued again by the sweeper",
)
