"""The shapes of the ids the public API takes, and the one way an id goes into an internal URL.

Ids are made by `payflow_contracts.new_id` (`<prefix>_` then lower-case hex) or, for events, by
`transfer_event_id` (`evt_` then hex). An id of any other shape names nothing: the gateway answers
it like an unknown id (404 with the resource's code) without asking any service, and every id put
into an internal URL is percent-encoded as one path segment, so `tr_X%23a` can never reach
`tr_X` by way of a `#`, `/`, `?` or `..`.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import Request

from payflow_service import ProblemError

_HEX_ID = r"[0-9a-f]{1,64}"

# Path parameter -> (id prefix, the 404 answered for an id of another shape: exactly the one
# answered for a well-formed id that is unknown).
PATH_IDS: dict[str, tuple[str, str, str]] = {
    "wallet_id": ("wal", "wallet_not_found", "No such wallet."),
    "transfer_id": ("tr", "transfer_not_found", "No such transfer."),
    "endpoint_id": ("we", "webhook_endpoint_not_found", "No such webhook endpoint."),
    "delivery_id": ("del", "delivery_not_found", "No such delivery."),
    "event_id": ("evt", "event_not_found", "No such event."),
    "key_id": ("key", "api_key_not_found", "No such API key."),
    "fault_id": ("flt", "fault_rule_not_found", "No such fault rule."),
    "link_id": ("pl", "payment_link_not_found", "No such payment link."),
}

_PATTERNS = {prefix: re.compile(rf"{prefix}_{_HEX_ID}") for prefix, *_ in PATH_IDS.values()}
_PATTERNS["usr"] = re.compile(rf"usr_{_HEX_ID}")


def is_id(value: str, prefix: str) -> bool:
    """True when `value` has the shape of an id with `prefix` (`wal`, `tr`, ...)."""
    return _PATTERNS[prefix].fullmatch(value) is not None


def segment(value: str) -> str:
    """`value` as one percent-encoded URL path segment: nothing in it is a separator."""
    return quote(value, safe="")


async def check_path_ids(request: Request) -> None:
    """A router dependency: every id in the route's path has its resource's shape, else 404."""
    for name, value in request.path_params.items():
        known = PATH_IDS.get(name)
        if known is not None and not is_id(str(value), known[0]):
            _, code, detail = known
            raise ProblemError(404, code, detail)
