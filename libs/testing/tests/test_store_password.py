"""The suite's own Redis requires a password, so every test runs against an authenticated one."""

from __future__ import annotations

from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError

from payflow_testing.stores import StoreEndpoints

pytestmark = pytest.mark.integration


async def test_the_test_redis_refuses_a_client_without_the_password(
    stores: StoreEndpoints, redis_client: Any
) -> None:
    if stores.redis_kind == "external" and stores.redis_password is None:
        pytest.skip("PAYFLOW_TEST_REDIS_URL names a Redis without a password")
    assert stores.redis_password
    assert await redis_client.ping()
    anonymous = Redis.from_url(stores.redis_url_without_password)
    try:
        with pytest.raises(AuthenticationError):
            await anonymous.get("anything")
    finally:
        await anonymous.aclose()
