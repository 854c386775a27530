"""Per-guest policy through GuestSession: access modes, key prefixes, quotas, limits.

Runs on memory://, disk://, a real Redis and a real PostgreSQL: the same rules on each, and
quotas counted by the backend itself (so they hold across hosts).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from wasmcache import CacheError, GuestSession, Limits, open_backend
from wasmcache.policy import Access, Policy
from wasmcache.testing import TrackingBackend, unique_namespace

DENIED = CacheError.ACCESS_DENIED
TABLE = f"wasmcache_policy_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=["memory", "disk", "redis", "postgresql"])
def backend_url(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "memory":
        yield f"memory://{unique_namespace()}"
        return
    if request.param == "disk":
        yield f"disk://{tmp_path_factory.mktemp('policy-disk')}"
        return
    if request.param == "redis":  # every test's keys are deleted by TrackingBackend.clean
        yield f"redis://127.0.0.1:6379/0?prefix=wasmcache-policy-{uuid.uuid4().hex[:8]}:"
        return
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/test?table={TABLE}"
    yield url
    import sqlalchemy

    engine = sqlalchemy.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {TABLE}"))
        conn.execute(sqlalchemy.text(f"DROP TABLE IF EXISTS {TABLE}_schema"))
    engine.dispose()


@pytest.fixture
def make_host(backend_url: str) -> Iterator[Callable[..., GuestSession]]:
    backend = TrackingBackend(open_backend(backend_url))
    namespace = unique_namespace()

    def make(policy: Policy = Policy(), limits: Limits | None = None) -> GuestSession:
        return GuestSession(backend, namespace, limits, policy)

    yield make
    backend.clean()
    backend.close()


def test_read_only_guest_reads_but_never_writes(make_host) -> None:
    writer, reader = make_host(), make_host(Policy(access=Access.READ_ONLY))
    assert writer.set("k", b"v", None) is None
    assert reader.get("k") == b"v"
    assert reader.set("k", b"changed", None) == DENIED
    assert reader.set("new", b"x", None) == DENIED
    assert reader.delete("k") == DENIED
    assert writer.get("k") == b"v"
    assert writer.get("new") == CacheError.NOT_FOUND


def test_access_none_refuses_everything(make_host) -> None:
    writer, nobody = make_host(), make_host(Policy(access=Access.NONE))
    assert writer.set("k", b"v", None) is None
    assert nobody.get("k") == DENIED
    assert nobody.set("k", b"x", None) == DENIED
    assert nobody.delete("k") == DENIED
    assert writer.get("k") == b"v"


def test_key_prefixes(make_host) -> None:
    host = make_host(Policy(key_prefixes=("cart:", "session:")))
    assert host.set("cart:1", b"v", None) is None
    assert host.get("cart:1") == b"v"
    assert host.set("other", b"v", None) == DENIED
    assert host.get("other") == DENIED
    assert host.delete("other") == DENIED
    assert host.set("car", b"v", None) == DENIED
    assert make_host().get("other") == CacheError.NOT_FOUND


def test_contract_errors_come_before_policy(make_host) -> None:
    host = make_host(Policy(access=Access.READ_ONLY), Limits(max_key_bytes=8, max_value_bytes=4))
    assert host.get("") == CacheError.INVALID_KEY
    assert host.get("123456789") == CacheError.INVALID_KEY
    assert host.set("k", b"12345", None) == CacheError.VALUE_TOO_LARGE


def test_key_quota(make_host) -> None:
    host = make_host(Policy(max_keys=2))
    assert host.set("a", b"1", None) is None
    assert host.set("b", b"2", None) is None
    assert host.set("c", b"3", None) == DENIED
    assert host.get("c") == CacheError.NOT_FOUND
    assert host.set("a", b"overwrite is fine", None) is None
    assert host.delete("a") is None
    assert host.set("c", b"3", None) is None


def test_byte_quota(make_host) -> None:
    host = make_host(Policy(max_bytes=10))
    assert host.set("a", b"12345", None) is None
    assert host.set("b", b"123456", None) == DENIED
    assert host.get("b") == CacheError.NOT_FOUND
    assert host.set("a", b"1234567890", None) is None  # replacing counts the new size only
    assert host.set("b", b"", None) is None


def test_quota_holds_across_hosts_of_one_namespace(make_host) -> None:
    """Two hosts (two runs, or two machines) share the backend's count, not a local one."""
    first, second = make_host(Policy(max_keys=1)), make_host(Policy(max_keys=1))
    assert first.set("a", b"1", None) is None
    assert second.set("b", b"2", None) == DENIED
    assert second.get("b") == CacheError.NOT_FOUND


def test_namespaces_have_their_own_quota(backend_url: str) -> None:
    backend = TrackingBackend(open_backend(backend_url))
    try:
        one = GuestSession(backend, unique_namespace(), policy=Policy(max_keys=1))
        two = GuestSession(backend, unique_namespace(), policy=Policy(max_keys=1))
        assert one.set("a", b"1", None) is None
        assert two.set("a", b"1", None) is None
    finally:
        backend.clean()
        backend.close()
