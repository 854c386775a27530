"""`RedisBackend`: the wasmcache Backend protocol on one redis-py client and its pool.

One backend holds one client for its URL: a `redis.Redis` over one `ConnectionPool`, or a
`redis.cluster.RedisCluster` (one pool per node), reused by every call and every guest of the
host. Nothing connects at open: the first call does, so a host can start while Redis is down
and its guests get `unavailable` until Redis is back. See `wasmcache_redis.options` for the URL.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import KWARGS_DISABLED_KEYS, REDIS_ALLOWED_KEYS, ClusterNode, RedisCluster
from redis.connection import parse_url
from redis.retry import Retry
from redis.utils import HIREDIS_AVAILABLE
from wasmcache import StoreDescription, WasmcacheError
from wasmcache.preflight import require_readable

from .capabilities import RedisCapabilities
from .check import check
from .errors import raise_if_outage, unavailable_on_outage
from .keys import namespace_pattern, redis_key
from .options import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_SOCKET_TIMEOUT,
    RedisOptions,
    parse_options,
    store_description,
)

log = logging.getLogger("wasmcache.redis")

#: Options that would make redis-py return str instead of the exact bytes stored.
REFUSED_OPTIONS = ("decode_responses", "encoding", "encoding_errors")
#: TLS options naming files: checked at open, since redis-py would report a missing file at
#: connect time as an error indistinguishable from an outage.
TLS_FILE_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile")
DATABASE_PATH = re.compile(r"/?(\d+)?")


class RedisBackend(RedisCapabilities):
    """Stores each (namespace, key) under `redis_key`; thread-safe like the redis-py client.

    The wasi:keyvalue capabilities (INCRBY, CAS script, MGET, SCAN) come from
    `RedisCapabilities`."""

    def __init__(self, options: RedisOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._pool: redis.ConnectionPool | None = None
        self._client: Any = None  # redis.Redis, or RedisCluster once the first call built it
        self._heads: dict[str, bytes] = {}  # namespace -> its keys' leading bytes (see _key)
        if options.cluster:
            _check_cluster_url(options.redis_url)
        else:
            self._pool = _server_pool(options)
            self._client = redis.Redis(connection_pool=self._pool)
        self._description = store_description(options)

    def _key(self, namespace: str, key: bytes) -> bytes:
        """`redis_key`, with each namespace's head (``PREFIX{NS}:``) built once: per call it is
        one concatenation (storage_key is a plain concatenation, so this is the same bytes)."""
        head = self._heads.get(namespace)
        if head is None:
            if len(self._heads) >= 1024:  # a host serves few namespaces; stay bounded anyway
                self._heads.clear()
            head = redis_key(namespace, b"", self.options.prefix, self.options.hash_tag)
            self._heads[namespace] = head
        return head + key

    def _redis(self) -> Any:
        """The client; a cluster client is built on first use, since building it connects."""
        client = self._client
        if client is not None:
            return client
        with self._lock:
            if self._client is None:
                self._client = _cluster_client(self.options)
            return self._client

    # The three hot calls catch errors inline (`raise_if_outage`) rather than through the
    # `unavailable_on_outage` context manager, which costs a generator per call.
    def get(self, namespace: str, key: bytes) -> bytes | None:
        try:
            value = (self._client or self._redis()).get(self._key(namespace, key))
        except Exception as exc:
            raise_if_outage(exc)
            raise
        return None if value is None else bytes(value)

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        """One command either way: ``SET k v EX ttl`` (atomic expiry) or ``SET k v`` (clears it)."""
        try:
            if ttl is None:
                (self._client or self._redis()).set(self._key(namespace, key), value)
            else:
                (self._client or self._redis()).set(self._key(namespace, key), value, ex=ttl)
        except Exception as exc:
            raise_if_outage(exc)
            raise

    def delete(self, namespace: str, key: bytes) -> None:
        try:
            (self._client or self._redis()).delete(self._key(namespace, key))
        except Exception as exc:
            raise_if_outage(exc)
            raise

    def usage(self, namespace: str) -> tuple[int, int]:
        """(live keys, bytes of values) in `namespace`, for quotas that hold across hosts.

        SCAN over the namespace's keys (expired keys are never returned) and STRLEN in one
        pipeline; O(keys in the namespace), paid only by guests that have a quota.
        """
        pattern = namespace_pattern(namespace, self.options.prefix, self.options.hash_tag)
        with unavailable_on_outage():
            client = self._redis()
            keys = list(client.scan_iter(match=pattern, count=1000))
            if not keys:
                return 0, 0
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.strlen(key)
            sizes = pipe.execute()
        return len(keys), sum(sizes)

    def describe(self) -> StoreDescription:
        """The server for telemetry (`store_description`): no user or password."""
        return self._description

    def check(self) -> None:
        """Contact Redis once before a guest runs (`wasmcache_redis.check`): raises
        `BackendMisconfigured` for a refused login, an untrusted certificate, a missing
        database or the wrong kind of server, `BackendUnavailable` when it is unreachable."""
        check(self)

    def close(self) -> None:
        """Close the client and its pool(s); a `Redis` given a pool leaves that pool open.

        A cluster client is dropped (a later call would build a new one); a server client is
        kept, its pool simply reconnects if it is ever used again.
        """
        with self._lock:
            client = self._client
            if self.options.cluster:
                self._client = None
        if client is not None:
            client.close()
        if self._pool is not None:
            self._pool.disconnect()


def open_redis(url: str) -> RedisBackend:
    """The opener registered for every scheme; raises `WasmcacheError` for a bad URL."""
    if not HIREDIS_AVAILABLE:
        log.warning("hiredis is not importable (or older than 3.2): redis-py falls back to its "
                    "pure-Python parser; `pip install 'hiredis>=3.2'`")
    return RedisBackend(parse_options(url))


def _retry(options: RedisOptions) -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), options.retries)


def _query_names(redis_url: str) -> list[str]:
    return list(parse_qs(urlsplit(redis_url).query, keep_blank_values=True))


def _check_common(redis_url: str) -> dict[str, Any]:
    """redis-py's reading of the URL, after the checks it does not make itself."""
    try:
        parts = urlsplit(redis_url)
        query = parse_qs(parts.query, keep_blank_values=True)
        kwargs = parse_url(redis_url)
    except ValueError as exc:  # "Invalid IPv6 URL", a port that is not a number, ...
        raise WasmcacheError(f"bad Redis URL: {exc}") from None
    for name in query:
        if name in REFUSED_OPTIONS:
            raise WasmcacheError(f"Redis URL option {name!r} is not supported: wasmcache "
                                 "stores and returns raw bytes")
    port = kwargs.get("port")
    if port is not None and not 0 < int(port) < 65536:
        raise WasmcacheError(f"bad Redis URL: port {port} is not 1-65535")
    if parts.scheme != "unix" and not DATABASE_PATH.fullmatch(parts.path):
        # redis-py would silently ignore a path that is not a number and use database 0
        raise WasmcacheError(f"Redis URL path {parts.path!r} is not a database number: use "
                             "/0 to /15 (or leave it out for 0)")
    for name in TLS_FILE_OPTIONS:
        for path in query.get(name, []):
            require_readable(name, path, "Redis URL")
    return kwargs


def _server_pool(options: RedisOptions) -> redis.ConnectionPool:
    """A pool for redis://, rediss:// or unix://; unknown options fail here, not at first call."""
    _check_common(options.redis_url)
    pool = redis.ConnectionPool.from_url(
        options.redis_url,
        socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT,
        socket_timeout=DEFAULT_SOCKET_TIMEOUT,
        retry=_retry(options),
    )
    try:  # building a Connection checks every option without connecting
        pool.connection_class(**pool.connection_kwargs)
    except TypeError as exc:
        found = re.search(r"argument '([^']+)'", str(exc))
        name = found.group(1) if found else str(exc)
        raise WasmcacheError(f"unknown Redis URL option {name!r}: the wasmcache-redis "
                             "README lists the options") from None
    return pool


def _check_cluster_url(redis_url: str) -> None:
    kwargs = _check_common(redis_url)
    if "path" in kwargs:
        raise WasmcacheError("Redis Cluster URLs take host:port, not a unix socket path")
    if kwargs.get("db", 0) != 0:
        raise WasmcacheError("Redis Cluster has only database 0: drop the /db or db= option")
    for name in _query_names(redis_url):
        if name != "db" and (name not in REDIS_ALLOWED_KEYS or name in KWARGS_DISABLED_KEYS):
            raise WasmcacheError(f"Redis URL option {name!r} is not supported on a cluster URL")


def _cluster_client(options: RedisOptions) -> RedisCluster:
    return RedisCluster(
        url=options.redis_url,
        startup_nodes=[ClusterNode(host, port) for host, port in options.nodes],
        retry=_retry(options),
        socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT,
        socket_timeout=DEFAULT_SOCKET_TIMEOUT,
    )
