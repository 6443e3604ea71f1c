"""Prometheus metrics of the messaging layer (one set per process, labelled by stream)."""

from prometheus_client import Counter, Gauge

MESSAGES_PUBLISHED = Counter(
    "payflow_stream_messages_published_total", "Messages published", ["stream", "type"]
)
MESSAGES_HANDLED = Counter(
    "payflow_stream_messages_handled_total", "Messages handled and acknowledged", ["stream", "type"]
)
MESSAGES_FAILED = Counter(
    "payflow_stream_messages_failed_total",
    "Handler failures (message left pending)",
    ["stream", "type"],
)
DEAD_LETTERS = Counter(
    "payflow_stream_dead_letters_total", "Messages moved to the dead-letter stream", ["stream"]
)
MESSAGES_REJECTED = Counter(
    "payflow_stream_messages_rejected_total",
    "Messages refused unread because their signature is missing or wrong (dead-lettered)",
    ["stream", "reason"],
)
MESSAGES_RECLAIMED = Counter(
    "payflow_stream_messages_reclaimed_total",
    "Pending messages reclaimed from idle consumers",
    ["stream"],
)
PENDING = Gauge(
    "payflow_stream_pending_messages",
    "Messages delivered but not yet acknowledged",
    ["stream", "group"],
)
DEAD_LETTER_BACKLOG = Gauge(
    "payflow_stream_dead_letter_messages", "Messages in the dead-letter stream", ["stream"]
)
