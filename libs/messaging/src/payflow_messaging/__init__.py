"""Durable messaging on Redis Streams consumer groups: publish, consume, reclaim, dead-letter.

Delivery is at least once. A handler that raises leaves its message pending; after
`claim_idle_ms` any consumer of the group reclaims it (XAUTOCLAIM), so a consumer that died mid-way
loses nothing. A message delivered more than `max_deliveries` times is moved to `<stream>:dead`
and acknowledged, so one poison message never blocks the stream. Every message is signed with
the bus key (HMAC-SHA256, `signing.py`); one that is not is dead-lettered unread.
"""

from payflow_messaging.consumer import ConsumerConfig, Handler, StreamConsumer
from payflow_messaging.publisher import StreamPublisher
from payflow_messaging.signing import BusSigner, Rejection

__all__ = [
    "BusSigner",
    "ConsumerConfig",
    "Handler",
    "Rejection",
    "StreamConsumer",
    "StreamPublisher",
]
