"""``memory://``: a process-local store, for tests and guests that need no persistence.

Every ``memory://NAME`` URL opened in one process shares one store per NAME, so several guests
of one host can share data; nothing outlives the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..backend import BackendSpec, StoreDescription, storage_key
from ..capabilities import add_counter, parse_counter
from ..errors import WasmcacheError
from ..hookspecs import hookimpl

#: How telemetry names this store (``db.system.name``; docs/backends.md): wasmcache's own.
MEMORY_STORE = StoreDescription(system="wasmcache.memory")


class MemoryBackend:
    """A dict of storage key -> (value, deadline), guarded by a lock for threaded hosts."""

    def __init__(self) -> None:
        self._data: dict[bytes, tuple[bytes, float | None]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str, key: bytes) -> bytes | None:
        skey = storage_key(namespace, key)
        with self._lock:
            entry = self._data.get(skey)
            if entry is None:
                return None
            value, deadline = entry
            if deadline is not None and time.monotonic() >= deadline:
                del self._data[skey]
                return None
            return value

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        deadline = None if ttl is None else time.monotonic() + ttl
        with self._lock:
            self._data[storage_key(namespace, key)] = (value, deadline)

    def delete(self, namespace: str, key: bytes) -> None:
        with self._lock:
            self._data.pop(storage_key(namespace, key), None)

    def usage(self, namespace: str) -> tuple[int, int]:
        """(keys, bytes of values) live in `namespace`: lets quotas hold across guests."""
        prefix = storage_key(namespace, b"")
        now = time.monotonic()
        with self._lock:
            live = [value for skey, (value, deadline) in self._data.items()
                    if skey.startswith(prefix) and (deadline is None or deadline > now)]
        return len(live), sum(map(len, live))

    # --- wasi:keyvalue capabilities (wasmcache.capabilities), atomic under the lock ---
    def _live(self, skey: bytes) -> bytes | None:
        entry = self._data.get(skey)
        if entry is None or (entry[1] is not None and time.monotonic() >= entry[1]):
            return None
        return entry[0]

    def increment(self, namespace: str, key: bytes, delta: int) -> int:
        skey = storage_key(namespace, key)
        with self._lock:
            new = add_counter(parse_counter(self._live(skey)), delta)
            self._data[skey] = (str(new).encode(), None)
        return new

    def compare_and_swap(self, namespace: str, key: bytes, expected: bytes | None,
                         new: bytes) -> bool:
        skey = storage_key(namespace, key)
        with self._lock:
            if self._live(skey) != expected:
                return False
            self._data[skey] = (new, None)
        return True

    def get_many(self, namespace: str, keys: list[bytes]) -> list[bytes | None]:
        with self._lock:
            return [self._live(storage_key(namespace, key)) for key in keys]

    def set_many(self, namespace: str, items: list[tuple[bytes, bytes]]) -> None:
        with self._lock:
            for key, value in items:
                self._data[storage_key(namespace, key)] = (value, None)

    def delete_many(self, namespace: str, keys: list[bytes]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(storage_key(namespace, key), None)

    def list_keys(self, namespace: str, cursor: str | None,
                  limit: int) -> tuple[list[bytes], str | None]:
        """Keys in byte order after `cursor` (the hex of the last key returned)."""
        prefix = storage_key(namespace, b"")
        after = prefix + bytes.fromhex(cursor) if cursor else None
        with self._lock:
            found = sorted(skey for skey in self._data
                           if skey.startswith(prefix) and (after is None or skey > after)
                           and self._live(skey) is not None)
        page = [skey[len(prefix):] for skey in found[:limit]]
        return page, (page[-1].hex() if len(found) > limit else None)

    def describe(self) -> StoreDescription:
        """A store inside this process: no server address."""
        return MEMORY_STORE

    def close(self) -> None:
        """Nothing to release: the data stays for other users of the same URL."""


_stores: dict[str, MemoryBackend] = {}
_stores_lock = threading.Lock()


def open_memory(url: str) -> MemoryBackend:
    """The store named by ``memory://NAME``; options are refused (there are none), so a typo
    is not silently a new store."""
    name = url.split("://", 1)[1]
    if "?" in name or "#" in name:
        raise WasmcacheError("memory:// takes no options: use memory:// or memory://NAME "
                             "(one store per NAME in this process)")
    with _stores_lock:
        return _stores.setdefault(name, MemoryBackend())


@hookimpl
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    register(BackendSpec(
        schemes=("memory",),
        open=open_memory,
        description="in-process store; nothing outlives the process",
        example="memory://",
        capabilities=("usage", "increment", "compare_and_swap", "get_many", "set_many",
                      "delete_many", "list_keys", "describe"),
    ))
