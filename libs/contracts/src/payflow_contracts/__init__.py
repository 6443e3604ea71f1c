"""Message contracts shared by every PayFlow process: the envelope, money, ids and payloads."""

from payflow_contracts.envelope import Envelope, MessagePayload
from payflow_contracts.ids import new_id
from payflow_contracts.money import Money

__all__ = ["Envelope", "MessagePayload", "Money", "new_id"]
