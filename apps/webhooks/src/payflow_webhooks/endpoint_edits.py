"""Owner edits of an endpoint (changes, secret rotation), retried over concurrent worker writes."""

from __future__ import annotations

from collections.abc import Callable

from payflow_webhooks.domain.endpoint import WebhookEndpoint
from payflow_webhooks.domain.errors import EditConflict, EndpointNotFound
from payflow_webhooks.ports import EndpointStore

MAX_EDIT_TRIES = 5


async def edit_endpoint(
    store: EndpointStore,
    endpoint_id: str,
    owner_id: str,
    change: Callable[[WebhookEndpoint], WebhookEndpoint],
) -> WebhookEndpoint:
    """Apply `change` to the current endpoint with a compare-and-set
    (`EndpointNotFound` when the owner has no such endpoint).

    A worker write (a failure mark, a disable) bumps the version too, so the edit is re-applied
    to the fresh endpoint instead of overwriting what the worker recorded.
    """
    for _ in range(MAX_EDIT_TRIES):
        current = await store.get(endpoint_id, owner_id)
        if current is None:
            raise EndpointNotFound(endpoint_id)
        changed = change(current)
        if await store.compare_and_set(changed, current.version):
            return changed
    raise EditConflict(endpoint_id)
