"""wasmcache-redis: Redis and Redis Cluster storage for wasmcache, on redis-py with hiredis.

Schemes: ``redis://``, ``rediss://``, ``unix://`` (one server, as redis-py's ``from_url``
reads them) and ``redis+cluster://``, ``rediss+cluster://`` (Redis Cluster). URL options are
described in `wasmcache_redis.options`; the key layout in `wasmcache_redis.keys`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wasmcache import BackendSpec, hookimpl

from .keys import namespace_pattern, redis_key
from .options import CLUSTER_SCHEMES, SERVER_SCHEMES, RedisOptions, parse_options

if TYPE_CHECKING:
    from .backend import RedisBackend

__all__ = ["RedisBackend", "RedisOptions", "namespace_pattern", "open_redis", "parse_options",
           "redis_key"]


# Registration must stay cheap (every `wasmcache` command loads every plugin): redis-py is
# imported by the opener, and `RedisBackend` on first use (PEP 562).
def __getattr__(name: str) -> Any:
    if name == "RedisBackend":
        from .backend import RedisBackend

        return RedisBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_redis(url: str) -> RedisBackend:
    """The opener registered for every scheme; raises `WasmcacheError` for a bad URL."""
    from .backend import open_redis as open_

    return open_(url)


@hookimpl
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Two specs, so `wasmcache backends` tells a single server from a cluster."""
    register(BackendSpec(
        schemes=SERVER_SCHEMES,
        open=open_redis,
        description="one Redis server (rediss: TLS, unix: socket); shared by every host using it",
        example="redis://127.0.0.1:6379/0",
        capabilities=("check", "usage", "increment", "compare_and_swap", "get_many",
                      "set_many", "delete_many", "list_keys", "describe"),
        accepts_password=True,
    ))
    register(BackendSpec(
        schemes=tuple(CLUSTER_SCHEMES),
        open=open_redis,
        description="Redis Cluster from any node (rediss+cluster: TLS); keys of a namespace "
                    "share a slot",
        example="redis+cluster://127.0.0.1:7000",
        capabilities=("check", "usage", "increment", "compare_and_swap", "get_many",
                      "set_many", "delete_many", "list_keys", "describe"),
        accepts_password=True,
    ))
