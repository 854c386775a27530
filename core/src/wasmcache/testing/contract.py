"""`BackendContractTests`: every line of the cache contract, run against one backend URL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from ..backend import Backend
from ..capabilities import native_capabilities
from ..errors import CacheError
from ..limits import MAX_KEY_BYTES, MAX_VALUE_BYTES
from ..plugins import get_registry, open_backend
from ..session import GuestSession

NOT_FOUND = CacheError.NOT_FOUND
INVALID_KEY = CacheError.INVALID_KEY
TOO_LARGE = CacheError.VALUE_TOO_LARGE

MIB = MAX_VALUE_BYTES
HOSTILE_KEYS = [
    "a\0b", " ", "a b", "/", "a/b", ":", "a:b", "::", "ns:key", "\U0001F600", "é", "*", "?",
    "[a-z]", "{tag}", "}{", "\\", "'; DROP TABLE x; --", "%s", "\t\n\r", "\x7f", "\ufeff",
    "\U0010FFFF", "a" * MAX_KEY_BYTES,
]


def unique_namespace() -> str:
    """A namespace of the allowed alphabet that no other test run will pick."""
    return f"t-{uuid.uuid4().hex[:16]}"


class TrackingBackend:
    """Wraps a backend and remembers what was written, so a test can delete it afterwards."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.written: set[tuple[str, bytes]] = set()

    def get(self, namespace: str, key: bytes) -> bytes | None:
        return self.inner.get(namespace, key)

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        self.written.add((namespace, key))
        self.inner.set(namespace, key, value, ttl)

    def delete(self, namespace: str, key: bytes) -> None:
        self.inner.delete(namespace, key)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> object:
        """Optional capabilities (such as ``usage``) pass through when the backend has them;
        the writing ones (wasi:keyvalue's) remember their keys for `clean`."""
        found = getattr(self.inner, name)
        if name in ("increment", "compare_and_swap"):
            def tracked_one(namespace: str, key: bytes, *args: object) -> object:
                self.written.add((namespace, key))
                return found(namespace, key, *args)  # type: ignore[operator]

            return tracked_one
        if name == "set_many":
            def tracked_many(namespace: str, items: list[tuple[bytes, bytes]]) -> object:
                self.written.update((namespace, key) for key, _ in items)
                return found(namespace, items)  # type: ignore[operator]

            return tracked_many
        return found

    def clean(self) -> None:
        for namespace, key in self.written:
            self.inner.delete(namespace, key)
        self.written.clear()


@contextmanager
def tracked_backend(url: str) -> Iterator[TrackingBackend]:
    """Open `url` for one test; afterwards delete what the test wrote and close it."""
    tracked = TrackingBackend(open_backend(url))
    try:
        yield tracked
    finally:
        tracked.clean()
        tracked.close()


class BackendContractTests:
    """The contract, identical on every backend. Provide a ``backend_url`` fixture."""

    #: Seconds to wait past a ttl of 1 s before the entry must be gone.
    ttl_grace: float = 1.2

    @pytest.fixture
    def backend_url(self) -> str:
        raise NotImplementedError("subclasses of BackendContractTests provide backend_url")

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[TrackingBackend]:
        with tracked_backend(backend_url) as backend:
            yield backend

    def test_declared_capabilities_are_the_backends_own(self, backend_url: str,
                                                        backend: TrackingBackend) -> None:
        """What the plugin declares (and `wasmcache backends` lists) is what it has."""
        declared = get_registry().lookup(backend_url).spec.capabilities
        assert sorted(declared) == sorted(native_capabilities(backend.inner))

    @pytest.fixture
    def cache(self, backend: TrackingBackend) -> GuestSession:
        return GuestSession(backend, unique_namespace())

    @pytest.fixture
    def other_namespace(self, backend: TrackingBackend) -> Callable[[str], GuestSession]:
        return lambda namespace: GuestSession(backend, namespace)

    # --- set / get / delete -------------------------------------------------------------
    def test_set_then_get_returns_the_value(self, cache: GuestSession) -> None:
        assert cache.set("greeting", b"hello", None) is None
        assert cache.get("greeting") == b"hello"

    def test_get_of_missing_key_is_not_found(self, cache: GuestSession) -> None:
        assert cache.get("never-written") == NOT_FOUND

    def test_set_overwrites(self, cache: GuestSession) -> None:
        assert cache.set("k", b"one", None) is None
        assert cache.set("k", b"two", None) is None
        assert cache.get("k") == b"two"

    def test_delete_removes_and_missing_delete_is_ok(self, cache: GuestSession) -> None:
        assert cache.set("k", b"v", None) is None
        assert cache.delete("k") is None
        assert cache.get("k") == NOT_FOUND
        assert cache.delete("k") is None
        assert cache.delete("never-written") is None

    def test_get_returns_bytes(self, cache: GuestSession) -> None:
        assert cache.set("k", b"v", None) is None
        assert type(cache.get("k")) is bytes

    # --- values -------------------------------------------------------------------------
    def test_empty_value_round_trips(self, cache: GuestSession) -> None:
        assert cache.set("empty", b"", None) is None
        assert cache.get("empty") == b""

    def test_every_byte_value_round_trips(self, cache: GuestSession) -> None:
        value = bytes(range(256)) * 4
        assert cache.set("bin", value, None) is None
        assert cache.get("bin") == value

    def test_one_mib_value_round_trips(self, cache: GuestSession) -> None:
        value = (bytes(range(251)) * (MIB // 251 + 1))[:MIB]
        assert cache.set("big", value, None) is None
        assert cache.get("big") == value

    def test_value_over_one_mib_is_refused_and_keeps_the_old_value(self,
                                                                  cache: GuestSession) -> None:
        assert cache.set("big", b"old", None) is None
        assert cache.set("big", b"x" * (MIB + 1), None) == TOO_LARGE
        assert cache.get("big") == b"old"
        assert cache.set("fresh", b"x" * (MIB + 1), None) == TOO_LARGE
        assert cache.get("fresh") == NOT_FOUND

    # --- keys ---------------------------------------------------------------------------
    @pytest.mark.parametrize("op", ["set", "get", "delete"])
    def test_empty_key_is_invalid(self, cache: GuestSession, op: str) -> None:
        assert _call(cache, op, "") == INVALID_KEY

    @pytest.mark.parametrize("op", ["set", "get", "delete"])
    def test_key_of_251_bytes_is_invalid(self, cache: GuestSession, op: str) -> None:
        assert _call(cache, op, "k" * (MAX_KEY_BYTES + 1)) == INVALID_KEY

    def test_limit_counts_bytes_not_characters(self, cache: GuestSession) -> None:
        fits = "k" * (MAX_KEY_BYTES - 2) + "é"  # 248 + 2 bytes = 250
        over = "k" * (MAX_KEY_BYTES - 1) + "é"  # 249 + 2 bytes = 251
        emoji_over = "\U0001F600" * 63  # 252 bytes in 63 characters
        assert cache.set(fits, b"ok", None) is None
        assert cache.get(fits) == b"ok"
        assert cache.set(over, b"no", None) == INVALID_KEY
        assert cache.get(over) == INVALID_KEY
        assert cache.set(emoji_over, b"no", None) == INVALID_KEY

    def test_hostile_keys_are_stored_verbatim(self, cache: GuestSession) -> None:
        for index, key in enumerate(HOSTILE_KEYS):
            assert cache.set(key, f"value-{index}".encode(), None) is None, key
        for index, key in enumerate(HOSTILE_KEYS):
            assert cache.get(key) == f"value-{index}".encode(), key

    def test_keys_compare_byte_for_byte(self, cache: GuestSession) -> None:
        pairs = [("a\0b", "a"), ("a", "A"), ("e\u0301", "\u00e9"), ("k ", "k"), ("a*", "ab")]
        for left, right in pairs:
            assert cache.set(left, b"left", None) is None
            assert cache.set(right, b"right", None) is None
            assert cache.get(left) == b"left", (left, right)
            assert cache.get(right) == b"right", (left, right)
            assert cache.delete(right) is None
            assert cache.get(left) == b"left", (left, right)

    # --- ttl ----------------------------------------------------------------------------
    def test_no_ttl_never_expires(self, cache: GuestSession) -> None:
        assert cache.set("forever", b"v", None) is None
        time.sleep(self.ttl_grace)
        assert cache.get("forever") == b"v"

    def test_ttl_zero_is_expired_at_once(self, cache: GuestSession) -> None:
        assert cache.set("gone", b"v", 0) is None
        assert cache.get("gone") == NOT_FOUND
        assert cache.set("was-there", b"old", None) is None
        assert cache.set("was-there", b"new", 0) is None
        assert cache.get("was-there") == NOT_FOUND

    def test_ttl_expires(self, cache: GuestSession) -> None:
        assert cache.set("short", b"v", 1) is None
        assert cache.set("long", b"v", 3600) is None
        assert cache.get("short") == b"v"
        time.sleep(1 + self.ttl_grace)
        assert cache.get("short") == NOT_FOUND
        assert cache.get("long") == b"v"

    def test_set_without_ttl_clears_an_old_ttl(self, cache: GuestSession) -> None:
        assert cache.set("k", b"v1", 1) is None
        assert cache.set("k", b"v2", None) is None
        time.sleep(1 + self.ttl_grace)
        assert cache.get("k") == b"v2"

    def test_set_with_ttl_replaces_the_old_ttl(self, cache: GuestSession) -> None:
        assert cache.set("longer", b"v1", 1) is None
        assert cache.set("longer", b"v2", 3600) is None
        assert cache.set("shorter", b"v1", None) is None
        assert cache.set("shorter", b"v2", 1) is None
        time.sleep(1 + self.ttl_grace)
        assert cache.get("longer") == b"v2"
        assert cache.get("shorter") == NOT_FOUND

    def test_largest_ttl_is_accepted(self, cache: GuestSession) -> None:
        assert cache.set("k", b"v", 2**32 - 1) is None
        assert cache.get("k") == b"v"

    # --- namespaces ---------------------------------------------------------------------
    def test_namespaces_are_isolated(self, other_namespace: Callable[[str], GuestSession]) -> None:
        left, right = other_namespace(unique_namespace()), other_namespace(unique_namespace())
        assert left.set("shared", b"left", None) is None
        assert right.get("shared") == NOT_FOUND
        assert right.set("shared", b"right", None) is None
        assert left.get("shared") == b"left"
        assert right.delete("shared") is None
        assert left.get("shared") == b"left"

    def test_namespace_and_key_never_alias(self,
                                           other_namespace: Callable[[str], GuestSession]) -> None:
        base = unique_namespace()
        # pairs whose naive concatenation (with or without a separator) would collide
        pairs = [(base, "x:y"), (base + ".x", "y"), (base + "x", ":y"), (base + "-x", "y"),
                 (base + "x", "y"), (base, "xy"), (base + "_x", "y")]
        hosts = [(other_namespace(ns), key) for ns, key in pairs]
        for index, (host, key) in enumerate(hosts):
            assert host.set(key, f"v{index}".encode(), None) is None
        for index, (host, key) in enumerate(hosts):
            assert host.get(key) == f"v{index}".encode(), pairs[index]

    def test_key_patterns_read_only_their_own_key(self, cache: GuestSession) -> None:
        assert cache.set("abc", b"1", None) is None
        for pattern in ["*", "a*", "ab?", "[a]bc", "{abc}", "%", "_bc", "a%"]:
            assert cache.get(pattern) == NOT_FOUND, pattern
            assert cache.delete(pattern) is None
        assert cache.get("abc") == b"1"


def _call(cache: GuestSession, op: str, key: str) -> object:
    if op == "set":
        return cache.set(key, b"v", None)
    return getattr(cache, op)(key)
