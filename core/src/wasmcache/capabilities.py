"""Optional backend capabilities, their one vocabulary, and the core's generic fallbacks.

A backend offers a capability by having the method (see docs/backends.md, section 5), and says
so where it registers (`BackendSpec.capabilities`, so listing backends imports none of them):

    check() -> None                                  contact the store once before a guest runs:
                                                     BackendMisconfigured / BackendUnavailable
                                                     (wasmcache.preflight)
    usage(namespace) -> (keys, bytes)                what a namespace holds (quotas)
    increment(namespace, key, delta) -> int          atomic add to a decimal integer value
    compare_and_swap(namespace, key, expected, new) -> bool
                                                     store `new` only if the value is `expected`
                                                     (None: only if the key is absent)
    get_many(namespace, keys) -> list[bytes | None]
    set_many(namespace, items) -> None               items: [(key, value)], never expiring
    delete_many(namespace, keys) -> None
    list_keys(namespace, cursor, limit) -> (keys, next_cursor)
                                                     about `limit` keys after `cursor` (None:
                                                     from the start); next_cursor None at the end
    describe() -> StoreDescription                   the store for telemetry (db.system.name,
                                                     server.address/port; `wasmcache.backend`)

`KeyValueOps` calls the native method when there is one and otherwise the fallback below:

* increment: a compare-and-swap loop when the backend has `compare_and_swap` (correct across
  processes and hosts), else get + set under a lock of this process (correct only among the
  increments and swaps of one process);
* compare_and_swap: get + compare + set under the same process lock (one process only);
* batches: one call per key (correct, only slower);
* list_keys: none: listing needs the backend's help, so a backend without it answers `other`.

Counters are stored as the ASCII decimal of a signed 64-bit integer (what Redis INCRBY keeps),
so a cache guest reads `b"42"`; incrementing anything else is an error (`NotACounter`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

from .backend import Backend

KEYVALUE_CAPABILITIES = ("increment", "compare_and_swap", "get_many", "set_many", "delete_many",
                         "list_keys")
#: Every word `BackendSpec.capabilities` may hold: the optional methods a backend may have.
CAPABILITIES = ("check", "usage", *KEYVALUE_CAPABILITIES, "describe")
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(rb"-?(0|[1-9][0-9]{0,18})")
_process_lock = threading.Lock()


class NotACounter(ValueError):
    """The value under the key is not the decimal of a signed 64-bit integer."""


class CounterOverflow(ValueError):
    """The increment would leave the signed 64-bit range."""


def parse_counter(value: bytes | None) -> int:
    """0 for a missing key, the integer of a decimal value, else `NotACounter`."""
    if value is None:
        return 0
    if not _DECIMAL.fullmatch(value):
        raise NotACounter("the value is not a decimal 64-bit integer")
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise NotACounter("the value is not a decimal 64-bit integer")
    return number


def add_counter(current: int, delta: int) -> int:
    total = current + delta
    if not INT64_MIN <= total <= INT64_MAX:
        raise CounterOverflow("the increment would overflow a signed 64-bit integer")
    return total


def native_capabilities(backend: object) -> tuple[str, ...]:
    """The capabilities `backend` (an object or a class) implements itself, in vocabulary order."""
    return tuple(name for name in CAPABILITIES if callable(getattr(backend, name, None)))


#: Short names for the CAPABILITIES column of `wasmcache backends`.
SHORT_NAMES = {"check": "check", "usage": "usage", "increment": "incr",
               "compare_and_swap": "cas", "get_many": "mget", "set_many": "mset",
               "delete_many": "mdel", "list_keys": "list", "describe": "describe"}


class KeyValueOps:
    """The capabilities of one backend, native where it has them, generic otherwise."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.native = frozenset(native_capabilities(backend))
        self.cas_retries = 0  # conflicts retried by the generic increment (for tests, figures)

    def increment(self, namespace: str, key: bytes, delta: int) -> int:
        if "increment" in self.native:
            return self.backend.increment(namespace, key, delta)  # type: ignore[attr-defined]
        if "compare_and_swap" in self.native:
            while True:
                old = self.backend.get(namespace, key)
                new = add_counter(parse_counter(old), delta)
                if self.backend.compare_and_swap(  # type: ignore[attr-defined]
                        namespace, key, old, str(new).encode()):
                    return new
                self.cas_retries += 1
        with _process_lock:
            new = add_counter(parse_counter(self.backend.get(namespace, key)), delta)
            self.backend.set(namespace, key, str(new).encode(), None)
            return new

    def compare_and_swap(self, namespace: str, key: bytes, expected: bytes | None,
                         new: bytes) -> bool:
        if "compare_and_swap" in self.native:
            return bool(self.backend.compare_and_swap(  # type: ignore[attr-defined]
                namespace, key, expected, new))
        with _process_lock:
            if self.backend.get(namespace, key) != expected:
                return False
            self.backend.set(namespace, key, new, None)
            return True

    def get_many(self, namespace: str, keys: Sequence[bytes]) -> list[bytes | None]:
        if not keys:
            return []
        if "get_many" in self.native:
            return list(self.backend.get_many(namespace, list(keys)))  # type: ignore[attr-defined]
        return [self.backend.get(namespace, key) for key in keys]

    def set_many(self, namespace: str, items: Sequence[tuple[bytes, bytes]]) -> None:
        if not items:
            return
        if "set_many" in self.native:
            self.backend.set_many(namespace, list(items))  # type: ignore[attr-defined]
            return
        for key, value in items:
            self.backend.set(namespace, key, value, None)

    def delete_many(self, namespace: str, keys: Sequence[bytes]) -> None:
        if not keys:
            return
        if "delete_many" in self.native:
            self.backend.delete_many(namespace, list(keys))  # type: ignore[attr-defined]
            return
        for key in keys:
            self.backend.delete(namespace, key)

    def list_keys(self, namespace: str, cursor: str | None,
                  limit: int) -> tuple[list[bytes], str | None]:
        if "list_keys" not in self.native:
            raise NotImplementedError("this backend cannot list keys (it has no list_keys)")
        keys, next_cursor = self.backend.list_keys(  # type: ignore[attr-defined]
            namespace, cursor, limit)
        return list(keys), next_cursor
