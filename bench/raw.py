"""The raw clients: each backend's own Python client doing the bench's operation, no wasmcache.

    python -m bench.raw LABEL TMPDIR OP SIZE ITERATIONS [BATCH]    # prints seconds per call

bench/run.py times each raw loop in a fresh process through this entry point, as it runs each
guest loop in a fresh `wasmcache run`: on this kind of VM a loop's latency depends on the
process's recent history (a raw redis-py GET measured 24 µs in the long-lived bench process
right after a guest run, 95-105 µs in a fresh process), so both sides start alike.
"""

from __future__ import annotations

import sqlite3
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path


class Raw:
    """get/set/delete of one key with a backend's own client; `close` cleans up. The keyvalue
    bench's operations (`bench.keyvalue`) are given for memory and Redis: exists, increment
    by 1, get-many (keys) and set-many (items)."""

    def __init__(self, get: Callable, set_: Callable, delete: Callable,
                 close: Callable[[], None] = lambda: None, *, exists: Callable | None = None,
                 increment: Callable | None = None, get_many: Callable | None = None,
                 set_many: Callable | None = None) -> None:
        self.get, self.set, self.delete, self.close = get, set_, delete, close
        self.exists, self.increment = exists, increment
        self.get_many, self.set_many = get_many, set_many


def raw_memory(_tmp: Path) -> Raw:
    data: dict[bytes, bytes] = {}

    def increment(k: bytes) -> int:  # the decimal bytes wasmcache stores
        value = int(data.get(k, b"0")) + 1
        data[k] = str(value).encode()
        return value

    return Raw(data.get, data.__setitem__, lambda k: data.pop(k, None),
               exists=data.__contains__, increment=increment,
               get_many=lambda keys: [data.get(k) for k in keys], set_many=data.update)


def raw_disk(tmp: Path, options: str = "") -> Raw:
    import diskcache
    from wasmcache_disk.options import parse_url

    # diskcache with the settings wasmcache-disk passes for the same URL options (journal mode,
    # synchronous, no memory-mapped database, values inline), so the ratio measures our code.
    settings = parse_url(f"disk://{tmp / 'raw-disk'}{options}").settings
    cache = diskcache.Cache(str(tmp / f"raw-disk{options.replace('?', '-')}"), **settings)
    return Raw(cache.get, cache.set, cache.delete, cache.close)


def raw_disk_persist(tmp: Path) -> Raw:
    return raw_disk(tmp, "?journal_mode=persist")


def raw_disk_wal(tmp: Path) -> Raw:
    return raw_disk(tmp, "?journal_mode=wal")


def raw_sqlite(tmp: Path) -> Raw:
    db = sqlite3.connect(tmp / "raw.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")  # as wasmcache-sql sets it: no fsync per commit
    db.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB)")

    def get(k: bytes) -> bytes | None:
        row = db.execute("SELECT v FROM kv WHERE k = ?", (k,)).fetchone()
        return row[0] if row else None

    return Raw(get, lambda k, v: db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (k, v)),
               lambda k: db.execute("DELETE FROM kv WHERE k = ?", (k,)), db.close)


def raw_postgresql(_tmp: Path) -> Raw:
    import psycopg

    db = psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", autocommit=True)
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    db.execute(f"CREATE TABLE {table} (k bytea PRIMARY KEY, v bytea)")

    def get(k: bytes) -> bytes | None:
        row = db.execute(f"SELECT v FROM {table} WHERE k = %s", (k,)).fetchone()
        return row[0] if row else None

    def close() -> None:
        db.execute(f"DROP TABLE {table}")
        db.close()

    return Raw(get, lambda k, v: db.execute(
        f"INSERT INTO {table} VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
        (k, v)), lambda k: db.execute(f"DELETE FROM {table} WHERE k = %s", (k,)), close)


def raw_mariadb(_tmp: Path) -> Raw:
    import pymysql

    db = pymysql.connect(host="127.0.0.1", port=3306, user="root", database="test",
                         autocommit=True)
    cur = db.cursor()
    table = f"bench_raw_{uuid.uuid4().hex[:8]}"
    cur.execute(f"CREATE TABLE {table} (k VARBINARY(300) PRIMARY KEY, v LONGBLOB)")

    def get(k: bytes) -> bytes | None:
        cur.execute(f"SELECT v FROM {table} WHERE k = %s", (k,))
        row = cur.fetchone()
        return row[0] if row else None

    def close() -> None:
        cur.execute(f"DROP TABLE {table}")
        db.close()

    return Raw(get, lambda k, v: cur.execute(
        f"REPLACE INTO {table} VALUES (%s, %s)", (k, v)),
        lambda k: cur.execute(f"DELETE FROM {table} WHERE k = %s", (k,)), close)


def raw_redis(_tmp: Path) -> Raw:
    import redis
    from redis.backoff import ExponentialWithJitterBackoff
    from redis.retry import Retry
    from wasmcache_redis.options import DEFAULT_CONNECT_TIMEOUT, DEFAULT_SOCKET_TIMEOUT

    # The client configuration wasmcache-redis builds, so the ratio measures our code alone:
    # its socket timeout makes CPython poll() before every send and receive (~10 µs a call).
    pool = redis.ConnectionPool.from_url(
        "redis://127.0.0.1:6379/0", socket_connect_timeout=DEFAULT_CONNECT_TIMEOUT,
        socket_timeout=DEFAULT_SOCKET_TIMEOUT,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 0))
    client = redis.Redis(connection_pool=pool)
    prefix = f"bench-raw-{uuid.uuid4().hex[:8]}:".encode()

    def close() -> None:
        for key in client.scan_iter(prefix + b"*"):
            client.delete(key)
        client.close()
        pool.disconnect()

    def set_many(items: list[tuple[bytes, bytes]]) -> None:  # as wasmcache-redis: a pipeline
        pipe = client.pipeline(transaction=False)
        for k, v in items:
            pipe.set(prefix + k, v)
        pipe.execute()

    return Raw(lambda k: client.get(prefix + k), lambda k, v: client.set(prefix + k, v),
               lambda k: client.delete(prefix + k), close,
               exists=lambda k: client.exists(prefix + k),
               increment=lambda k: client.incrby(prefix + k, 1),
               get_many=lambda keys: client.mget([prefix + k for k in keys]), set_many=set_many)


#: bench label -> factory of its raw client (given the run's scratch directory)
RAW_CLIENTS: dict[str, Callable[[Path], Raw]] = {
    "memory": raw_memory, "disk (default)": raw_disk,
    "disk (journal_mode=persist)": raw_disk_persist, "disk (journal_mode=wal)": raw_disk_wal,
    "SQLite": raw_sqlite,
    "PostgreSQL": raw_postgresql, "MariaDB": raw_mariadb, "Redis": raw_redis,
}


def time_raw(raw: Raw, op: str, size: int, iterations: int, batch: int = 1) -> float:
    """Seconds per call of `op` with the raw client (same key/value shape as the guests; a
    get-many / set-many call handles `batch` keys)."""
    key = f"bench-{op}-{size}".encode()
    value = bytes(i & 0xFF for i in range(size))
    keys = [key + f"-{index}".encode() for index in range(batch)]
    items = [(k, value) for k in keys]
    if op in ("get", "exists"):
        raw.set(key, value)
    elif op == "get-many":
        raw.set_many(items)  # type: ignore[misc]
    call: Callable[[], object] = {
        "get": lambda: raw.get(key), "set": lambda: raw.set(key, value),
        "delete": lambda: raw.delete(key), "exists": lambda: raw.exists(key),  # type: ignore
        "increment": lambda: raw.increment(key),  # type: ignore[misc]
        "get-many": lambda: raw.get_many(keys),  # type: ignore[misc]
        "set-many": lambda: raw.set_many(items)}[op]  # type: ignore[misc]
    start = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    return (time.perf_counter_ns() - start) / iterations / 1e9


def main(argv: list[str]) -> None:
    label, tmp, op, size, iterations, *batch = argv
    raw = RAW_CLIENTS[label](Path(tmp))
    try:
        print(time_raw(raw, op, int(size), int(iterations), int(batch[0]) if batch else 1))
    finally:
        raw.close()


if __name__ == "__main__":
    main(sys.argv[1:])
