"""Calls to other services' internal HTTP APIs: transport failures and 5xx become 503 problems,
refusals keep the other service's problem `code`."""

from __future__ import annotations

import logging
from typing import Any

import httpx

from payflow_service import ProblemError

logger = logging.getLogger(__name__)


class ServiceUnavailable(ProblemError):
    def __init__(self, service: str) -> None:
        super().__init__(
            503,
            "service_unavailable",
            f"The {service} service is not reachable; retry later.",
            headers={"Retry-After": "1"},
        )


async def call_service(
    client: httpx.AsyncClient, service: str, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    try:
        response = await client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        logger.warning("%s %s on %s failed: %r", method, path, service, exc)
        raise ServiceUnavailable(service) from exc
    if response.status_code >= 500:
        logger.warning("%s %s on %s answered %s", method, path, service, response.status_code)
        raise ServiceUnavailable(service)
    if response.status_code in (401, 403):
        # Our service token was refused: a deployment error, not the client's.
        logger.error("%s refused the gateway's service token", service)
        raise ServiceUnavailable(service)
    return response


def refusal(response: httpx.Response) -> ProblemError:
    """The other service's 4xx answer, passed on with its code (the body is problem+json)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return ProblemError(
        response.status_code,
        str(body.get("code") or "bad_request"),
        str(body.get("detail") or "The request was refused."),
        errors=body.get("errors"),
    )
