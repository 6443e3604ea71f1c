"""ARQ reaches a Redis whose password needs %-escapes in the URL, like every other client."""

from __future__ import annotations

from payflow_settings import ServiceSettings
from payflow_webhooks.adapters.arq_queue import arq_redis_settings


def test_the_password_and_user_are_decoded_as_redis_py_decodes_them() -> None:
    settings = ServiceSettings(  # type: ignore[call-arg]
        _env_file=None, redis_url="rediss://payflow@redis:6380/2", redis_password="p@ss/w:rd%"
    )
    arq = arq_redis_settings(settings.redis_connection_url)
    assert (arq.username, arq.password) == ("payflow", "p@ss/w:rd%")
    assert (arq.host, arq.port, arq.database, arq.ssl) == ("redis", 6380, 2, True)


def test_a_url_without_a_password_stays_without_one() -> None:
    arq = arq_redis_settings("redis://127.0.0.1:6380/0")
    assert (arq.username, arq.password) == (None, None)
