"""GuestSession: the checks the core does once for every backend, and its error mapping."""

from __future__ import annotations

import logging

import pytest
from wasmcache import (
    BackendUnavailable,
    CacheError,
    GuestSession,
    Limits,
    WasmcacheError,
    open_backend,
    storage_key,
    validate_namespace,
)

from conftest import FailingBackend


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(BackendUnavailable("connection refused"), CacheError.UNAVAILABLE),
     (RuntimeError("disk on fire"), CacheError.INTERNAL),
     (KeyError("x"), CacheError.INTERNAL)],
)
def test_backend_exceptions_become_error_cases(exc: Exception, expected: CacheError,
                                               caplog: pytest.LogCaptureFixture) -> None:
    host = GuestSession(FailingBackend(exc), "ns1")
    with caplog.at_level(logging.WARNING, logger="wasmcache.session"):
        assert host.set("k", b"secret-value", None) == expected
        assert host.get("k") == expected
        assert host.delete("k") == expected
    assert len(caplog.records) == 3
    assert all("ns1" in r.getMessage() for r in caplog.records)
    assert all("secret-value" not in r.getMessage() for r in caplog.records)


def test_validation_happens_before_the_backend_is_called() -> None:
    host = GuestSession(FailingBackend(RuntimeError("must not be reached")), "ns")
    assert host.set("", b"v", None) == CacheError.INVALID_KEY
    assert host.get("k" * 251) == CacheError.INVALID_KEY
    assert host.set("k", b"x" * (1024 * 1024 + 1), None) == CacheError.VALUE_TOO_LARGE


def test_operator_limits_apply(wasmcache_memory_url: str) -> None:
    host = GuestSession(open_backend(wasmcache_memory_url), "ns",
                     Limits(max_key_bytes=4, max_value_bytes=3))
    assert host.set("abcd", b"123", None) is None
    assert host.set("abcde", b"1", None) == CacheError.INVALID_KEY
    assert host.set("é" * 3, b"1", None) == CacheError.INVALID_KEY  # 6 bytes
    assert host.set("abcd", b"1234", None) == CacheError.VALUE_TOO_LARGE
    assert host.get("abcd") == b"123"


def test_bad_limits_are_refused() -> None:
    with pytest.raises(WasmcacheError, match="max_key_bytes"):
        Limits(max_key_bytes=0)


@pytest.mark.parametrize("name", ["default", "a", "A.b_c-9", "x" * 64])
def test_valid_namespaces(name: str) -> None:
    assert validate_namespace(name) == name


@pytest.mark.parametrize("name", ["", "x" * 65, "a:b", "a b", "{a}", "a/b", "é", "a\0"])
def test_invalid_namespaces(name: str) -> None:
    with pytest.raises(WasmcacheError, match="invalid namespace"):
        validate_namespace(name)
    with pytest.raises(WasmcacheError):
        GuestSession(open_backend("memory://"), name)


def test_storage_key_is_injective_across_namespace_and_key() -> None:
    assert storage_key("a", b"b.c") != storage_key("a.b", b"c")
    assert storage_key("a", b"b:c") != storage_key("a.b", b":c")
    assert storage_key("ab", b"c") != storage_key("a", b"bc")
    assert storage_key("ns", b"k", prefix=b"p:") == b"p:ns:k"


def test_memory_urls_share_a_store_per_name() -> None:
    first, again, other = (open_backend(u) for u in
                           ("memory://shared-x", "memory://shared-x", "memory://shared-y"))
    GuestSession(first, "ns").set("k", b"v", None)
    assert GuestSession(again, "ns").get("k") == b"v"
    assert GuestSession(other, "ns").get("k") == CacheError.NOT_FOUND
