"""Developer stack: the embedded stores and the process supervisor behind `make run`."""

from payflow_devstack.stores import (
    EmbeddedStore,
    free_port,
    mongo_command,
    redis_command,
    redis_server_binary,
    start_embedded_mongo,
    start_embedded_redis,
)

__all__ = [
    "EmbeddedStore",
    "free_port",
    "mongo_command",
    "redis_command",
    "redis_server_binary",
    "start_embedded_mongo",
    "start_embedded_redis",
]
