"""``disk://``: the embedded store, a directory of diskcache (SQLite) databases.

Storage layout: the diskcache key is ``wasmcache.storage_key(namespace, key)`` (bytes, stored
by diskcache as a raw BLOB, so keys compare byte for byte); the value is the guest's bytes,
always a BLOB inside SQLite's database (`options.INLINE_VALUES_BELOW`), never a side file.
TTLs are diskcache's own ``expire=`` (a wall-clock deadline in the database), so an expired
value stays gone for every later process; ``set`` without a ttl stores no deadline, which
clears an older one. URL options: see `wasmcache_disk.options`.

Errors: a SQLite lock that another writer holds longer than ``timeout`` (diskcache's
``Timeout``, or an ``OperationalError`` with SQLITE_BUSY/SQLITE_LOCKED) raises
`BackendUnavailable`, so the guest sees ``unavailable`` and may retry. Everything else (disk
full, I/O errors, a corrupt database, a value that is not bytes) propagates: the core logs it
and the guest sees ``internal``, because retrying would not help and the operator must look.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diskcache import Cache, FanoutCache, Timeout
from wasmcache import BackendUnavailable, StoreDescription, WasmcacheError, storage_key

from .capabilities import DiskCapabilities
from .directory import (
    apply_journal_mode,
    check_writable,
    create_directory,
    ensure_layout,
    shard_directories,
)
from .options import DiskOptions, parse_url

_LOCK_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
#: How telemetry names this store (``db.system.name``): the diskcache library that owns the
#: directory (SQLite underneath); a local directory has no server address.
DISK_STORE = StoreDescription(system="diskcache")


def is_lock_error(exc: sqlite3.OperationalError) -> bool:
    """True when SQLite gave up waiting for another connection's lock."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _LOCK_CODES  # extended codes keep the primary in the low byte
    return "locked" in str(exc) or "busy" in str(exc)


class DiskBackend(DiskCapabilities):
    """One opened cache directory. Thread-safe: diskcache keeps one connection per thread.

    The wasi:keyvalue capabilities (transactions, index scans) come from `DiskCapabilities`."""

    def __init__(self, cache: Cache | FanoutCache, options: DiskOptions) -> None:
        self.cache = cache
        self.options = options
        if isinstance(cache, FanoutCache):
            # FanoutCache's own get/set/delete turn a lock timeout into a miss or a silent
            # no-op (by design, for caches where that is harmless); a guest must instead hear
            # `unavailable`, and a delete must never silently fail. So pick the shard exactly
            # as FanoutCache does and call the shard's Cache, which raises Timeout.
            self._shards: tuple[Cache, ...] = cache._shards
            self._hash = cache._hash
        else:
            self._shards = (cache,)

    def _shard(self, skey: bytes) -> Cache:
        if len(self._shards) == 1:
            return self._shards[0]
        return self._shards[self._hash(skey) % len(self._shards)]

    @contextmanager
    def _faults(self, op: str) -> Iterator[None]:
        try:
            yield
        except Timeout:
            raise BackendUnavailable(
                f"disk cache {str(self.options.directory)!r}: {op} waited "
                f"{self.options.timeout:g} s for another writer's lock"
            ) from None
        except sqlite3.OperationalError as exc:
            if is_lock_error(exc):
                raise BackendUnavailable(
                    f"disk cache {str(self.options.directory)!r}: {op}: {exc}"
                ) from exc
            raise

    def _fault(self, op: str, exc: Exception) -> None:
        """`_faults` for the hot calls, which catch inline (a context manager costs a generator
        per call): raise `BackendUnavailable` for a lock timeout, else return."""
        if isinstance(exc, Timeout):
            raise BackendUnavailable(
                f"disk cache {str(self.options.directory)!r}: {op} waited "
                f"{self.options.timeout:g} s for another writer's lock"
            ) from None
        if isinstance(exc, sqlite3.OperationalError) and is_lock_error(exc):
            raise BackendUnavailable(
                f"disk cache {str(self.options.directory)!r}: {op}: {exc}"
            ) from exc

    def get(self, namespace: str, key: bytes) -> bytes | None:
        skey = storage_key(namespace, key)
        shards = self._shards
        try:
            return self._read(shards[0] if len(shards) == 1 else self._shard(skey), skey)
        except (Timeout, sqlite3.OperationalError) as exc:
            self._fault("get", exc)
            raise

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        skey = storage_key(namespace, key)
        try:
            # expire=None stores no deadline, replacing any older one
            stored = self._shard(skey).set(skey, bytes(value), expire=ttl, retry=False)
        except (Timeout, sqlite3.OperationalError) as exc:
            self._fault("set", exc)
            raise
        if not stored:
            raise BackendUnavailable(f"disk cache {str(self.options.directory)!r}: set was "
                                     "not stored")

    def delete(self, namespace: str, key: bytes) -> None:
        skey = storage_key(namespace, key)
        try:
            self._shard(skey).delete(skey, retry=False)
        except (Timeout, sqlite3.OperationalError) as exc:
            self._fault("delete", exc)
            raise

    def usage(self, namespace: str) -> tuple[int, int]:
        """(live keys, bytes of values) in `namespace`, for quotas that hold across runs.

        A range scan of diskcache's key index over ``namespace:`` .. ``namespace;`` (';' follows
        ':'), in every shard; small values sit inline (size 0 in diskcache's row), large ones
        in files (their size in the row).
        """
        low = storage_key(namespace, b"")
        high = low[:-1] + b";"
        keys = size = 0
        with self._faults("usage"):
            for shard in self._shards:
                row = shard._sql(USAGE_SQL, (low, high, time.time())).fetchone()
                keys, size = keys + row[0], size + row[1]
        return keys, size

    def describe(self) -> StoreDescription:
        return DISK_STORE

    def close(self) -> None:
        self.cache.close()


USAGE_SQL = (
    "SELECT COUNT(*), COALESCE(SUM(CASE WHEN filename IS NULL THEN length(value) ELSE size END),"
    " 0) FROM Cache WHERE raw = 1 AND key >= ? AND key < ?"
    " AND (expire_time IS NULL OR expire_time > ?)"
)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    if isinstance(exc, Timeout):
        return "the database stayed locked by another process"
    return str(exc) or type(exc).__name__


def _open_diskcache(options: DiskOptions) -> Cache | FanoutCache:
    """diskcache's constructor, run again while another process holds a lock, up to `timeout`.

    It runs some statements with no busy wait at all, so with a rollback journal a process that
    opens the directory while another commits gets "database is locked" at once. Every step of
    it is idempotent (CREATE ... IF NOT EXISTS, INSERT OR REPLACE), so it can simply be rerun.
    """
    deadline = time.monotonic() + options.timeout
    while True:
        try:
            if options.shards == 1:
                return Cache(str(options.directory), timeout=options.timeout,
                             **options.settings)
            return FanoutCache(str(options.directory), shards=options.shards,
                               timeout=options.timeout, **options.settings)
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def open_cache(options: DiskOptions) -> DiskBackend:
    """Create and check the directory, open diskcache on it, or fail with one clear line."""
    directory: Path = options.directory
    create_directory(directory)
    check_writable(directory)
    ensure_layout(directory, options.shards)
    apply_journal_mode(directory, options.shards, options.journal_mode, options.timeout)
    try:
        cache = _open_diskcache(options)
    except (OSError, sqlite3.Error, Timeout) as exc:
        raise WasmcacheError(f"disk backend: cannot open the cache in {str(directory)!r}: "
                             f"{_describe(exc)}") from None
    try:
        if options.shards > 1:  # the top directory was probed above
            for shard_dir in shard_directories(directory, options.shards):
                check_writable(shard_dir)
        return DiskBackend(cache, options)
    except AttributeError as exc:  # FanoutCache internals moved: see DiskBackend.__init__
        cache.close()
        raise WasmcacheError(f"disk backend: shards={options.shards} does not work with this "
                             f"diskcache version ({exc}); use shards=1") from None
    except BaseException:
        cache.close()
        raise


def open_disk(url: str) -> DiskBackend:
    """The `BackendSpec.open` of ``disk://``: parse the URL and open the directory."""
    return open_cache(parse_url(url))
