"""Service-to-service authentication: every internal call carries the shared service token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from payflow_service.problems import ProblemError

INTERNAL_TOKEN_HEADER = "X-Internal-Token"  # noqa: S105 - a header name, not a secret


async def require_internal_token(request: Request) -> None:
    expected: str = request.app.state.runtime.settings.internal_token.get_secret_value()
    given = request.headers.get(INTERNAL_TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise ProblemError(401, "invalid_service_token", "A valid service token is required.")


InternalCaller = Annotated[None, Depends(require_internal_token)]
