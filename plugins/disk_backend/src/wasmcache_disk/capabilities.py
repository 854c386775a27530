"""wasi:keyvalue capabilities on diskcache: transactions for the atomics, index scans for keys.

`DiskCapabilities` is mixed into `DiskBackend` (it uses its ``_shards``, ``_shard`` and
``_faults``). Every key of one (namespace, key) lives in one shard, so:

* ``increment`` and ``compare_and_swap``: get, compare or add, set inside the shard's
  ``transact()`` (SQLite ``BEGIN IMMEDIATE``): atomic across threads and processes sharing the
  directory. diskcache's own ``incr`` is not used because it stores a SQLite integer, which a
  cache guest's ``get`` (bytes) could not read; the counter stays the ASCII decimal the core
  and the other backends use;
* ``get_many`` / ``set_many`` / ``delete_many``: one transaction per shard touched;
* ``list_keys``: a range scan of diskcache's key index (``namespace:`` .. ``namespace;``) in key
  order, ``LIMIT`` n rows after the cursor, shard by shard; the cursor is
  ``<shard>:<hex of the last key>``, so no page loads the namespace whole.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from diskcache import Cache
from wasmcache import storage_key
from wasmcache.capabilities import add_counter, parse_counter

LIST_SQL = (
    "SELECT key FROM Cache WHERE raw = 1 AND key > ? AND key < ?"
    " AND (expire_time IS NULL OR expire_time > ?) ORDER BY key LIMIT ?"
)
_MISSING = object()


class DiskCapabilities:
    """The optional capabilities of the Backend protocol (wasmcache.capabilities)."""

    _shards: tuple[Cache, ...]
    _shard: Callable[[bytes], Cache]
    _faults: Callable[[str], AbstractContextManager[None]]

    def _read(self, shard: Cache, skey: bytes) -> bytes | None:
        value = shard.get(skey, default=_MISSING, retry=False)
        if value is _MISSING:
            return None
        if type(value) is not bytes:
            raise TypeError(f"disk cache holds a {type(value).__name__} under this key, "
                            "not bytes: was it written by something other than wasmcache?")
        return value

    def increment(self, namespace: str, key: bytes, delta: int) -> int:
        skey = storage_key(namespace, key)
        shard = self._shard(skey)
        with self._faults("increment"), shard.transact(retry=False):
            new = add_counter(parse_counter(self._read(shard, skey)), delta)
            shard.set(skey, str(new).encode(), expire=None, retry=False)
        return new

    def compare_and_swap(self, namespace: str, key: bytes, expected: bytes | None,
                         new: bytes) -> bool:
        skey = storage_key(namespace, key)
        shard = self._shard(skey)
        with self._faults("compare-and-swap"), shard.transact(retry=False):
            if self._read(shard, skey) != expected:
                return False
            shard.set(skey, bytes(new), expire=None, retry=False)
        return True

    def _by_shard(self, skeys: Iterable[bytes]) -> Iterator[tuple[Cache, list[int]]]:
        groups: dict[int, list[int]] = defaultdict(list)
        shards: dict[int, Cache] = {}
        for index, skey in enumerate(skeys):
            shard = self._shard(skey)
            groups[id(shard)].append(index)
            shards[id(shard)] = shard
        for ident, indexes in groups.items():
            yield shards[ident], indexes

    def get_many(self, namespace: str, keys: list[bytes]) -> list[bytes | None]:
        skeys = [storage_key(namespace, key) for key in keys]
        values: list[bytes | None] = [None] * len(keys)
        with self._faults("get-many"):
            for shard, indexes in self._by_shard(skeys):
                with shard.transact(retry=False):
                    for index in indexes:
                        values[index] = self._read(shard, skeys[index])
        return values

    def set_many(self, namespace: str, items: list[tuple[bytes, bytes]]) -> None:
        skeys = [storage_key(namespace, key) for key, _ in items]
        with self._faults("set-many"):
            for shard, indexes in self._by_shard(skeys):
                with shard.transact(retry=False):
                    for index in indexes:
                        shard.set(skeys[index], bytes(items[index][1]), expire=None,
                                  retry=False)

    def delete_many(self, namespace: str, keys: list[bytes]) -> None:
        skeys = [storage_key(namespace, key) for key in keys]
        with self._faults("delete-many"):
            for shard, indexes in self._by_shard(skeys):
                with shard.transact(retry=False):
                    for index in indexes:
                        shard.delete(skeys[index], retry=False)

    def list_keys(self, namespace: str, cursor: str | None,
                  limit: int) -> tuple[list[bytes], str | None]:
        low = storage_key(namespace, b"")
        high = low[:-1] + b";"  # ';' follows ':'
        index, after = _parse_cursor(cursor, low)
        if index >= len(self._shards):
            raise ValueError("cursor names a shard this cache does not have")
        found: list[bytes] = []
        with self._faults("list-keys"):
            while index < len(self._shards):
                rows: Any = self._shards[index]._sql(LIST_SQL, (after, high, time.time(),
                                                                limit - len(found)))
                page = [bytes(row[0]) for row in rows.fetchall()]
                found += [skey[len(low):] for skey in page]
                if len(found) >= limit:
                    return found, f"{index}:{page[-1][len(low):].hex()}"
                index, after = index + 1, low
        return found, None


def _parse_cursor(cursor: str | None, low: bytes) -> tuple[int, bytes]:
    if not cursor:
        return 0, low
    shard, _, last = cursor.partition(":")
    return int(shard), low + bytes.fromhex(last)  # ValueError: the guest gets "invalid cursor"
