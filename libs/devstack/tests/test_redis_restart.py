"""A restarted embedded Redis is handed back only once it has loaded its data: Redis listens
before its append-only file is read and answers LOADING until then, which made a test that wrote
right after a restart fail now and then."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from payflow_devstack.stores import start_embedded_redis

pytestmark = pytest.mark.integration


def test_a_restarted_redis_answers_at_once_however_much_it_has_to_load(tmp_path: Path) -> None:
    server = start_embedded_redis(tmp_path)
    try:
        client = redis.Redis.from_url(server.url)
        pipe = client.pipeline(transaction=False)
        for i in range(300_000):  # enough that loading it back takes a visible while
            pipe.set(f"k{i}", "x" * 50)
            if i % 10_000 == 0:
                pipe.execute()
        pipe.execute()
        client.close()
        server.stop()
        server = start_embedded_redis(tmp_path, port=server.port, password=server.extra["password"])
        client = redis.Redis.from_url(server.url)
        assert client.set("after", "1")  # no BusyLoadingError
        assert client.dbsize() == 300_001
        client.close()
    finally:
        server.stop()
