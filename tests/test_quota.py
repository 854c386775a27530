"""A profile's quota bounds the guest: its namespace and all of its buckets together, through
both interfaces, for every write that can create a key or grow a value.

Through the CLI, with one guest that calls both interfaces (examples/ops_guest), on every
backend: memory, disk, SQLite, PostgreSQL, MariaDB and Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import plugin_helpers
import pytest
from build import build_guest
from wasmcache import CacheError, GuestSession, KeyValueHost, open_backend
from wasmcache.keyvalue import ACCESS_DENIED
from wasmcache.policy import Policy
from wasmcache.testing import unique_namespace
from wasmcache.testing.keyvalue import BareBackend

TABLE = f"wasmcache_quota_{uuid.uuid4().hex[:8]}"
BACKENDS = {
    "memory": "memory://quota",
    "disk": "disk://{tmp}/store",
    "sqlite": "sqlite:///{tmp}/quota.db",
    "postgresql": f"postgresql+psycopg://postgres@127.0.0.1:5432/test?table={TABLE}",
    "mariadb": f"mysql+pymysql://root@127.0.0.1:3306/test?table={TABLE}",
    "redis": f"redis://127.0.0.1:6379/0?prefix=wasmcache-quota-{uuid.uuid4().hex[:8]}:",
}
BUCKETS = ("b1", "b2")
KEYS = ["a", "b", "c", "d", "e", "f", "g", "n", "m"]
PROFILES = """
[guests.keys]
max_keys = 2
buckets = ["b1", "b2"]

[guests.bytes]
max_bytes = 30
buckets = ["b1", "b2"]
"""


@pytest.fixture(scope="module")
def ops_guest() -> Path:
    return build_guest("ops_guest", world="cache-keyvalue-command")


@pytest.fixture(scope="module", params=list(BACKENDS))
def store_url(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = BACKENDS[request.param].format(tmp=tmp_path_factory.mktemp(request.param))
    yield url
    if request.param in ("postgresql", "mariadb"):
        plugin_helpers.SQL.drop_tables(url.split("?")[0], TABLE)


@pytest.fixture
def run(run_cli, ops_guest: Path, store_url: str, tmp_path: Path) -> Iterator:
    """Run the ops guest in a fresh namespace under a profile; afterwards delete its keys."""
    (tmp_path / "wasmcache.toml").write_text(PROFILES)
    namespace = unique_namespace()

    def run_ops(profile: str, *ops: str) -> list[str]:
        done = run_cli("run", "--backend", store_url, "--namespace", namespace, "--guest",
                       profile, str(ops_guest), *ops)
        assert done.returncode in (0, 1), done.stderr
        assert "Traceback" not in done.stderr
        return [line.split(": ", 1)[1] for line in done.stdout.splitlines()]

    yield run_ops
    backend = open_backend(store_url)
    try:
        for space in (namespace, *(f"{namespace}.{bucket}" for bucket in BUCKETS)):
            for key in KEYS:
                backend.delete(space, key.encode())
    finally:
        backend.close()


DENIED = "error access-denied"


def test_max_keys_covers_the_namespace_and_every_bucket(run) -> None:
    assert run(
        "keys", "cache.set:a:1", "kv.set:b1:b:2",
        # a third key through any write of either interface, in any bucket, is refused
        "cache.set:c:3", "kv.set:default:c:3", "kv.set:b2:c:3", "kv.set-many:b1:c=3,d=4",
        "kv.increment:b2:n:1", "kv.swap:b1:c:3", "kv.get:b2:c", "cache.get:c",
        # overwriting a key it holds is fine, in the namespace and in a bucket
        "cache.set:a:one", "kv.set:b1:b:two", "kv.swap:b1:b:2",
        # freeing one key makes room for exactly one more, through an increment this time
        "kv.delete:default:a", "kv.increment:b2:n:5", "kv.increment:b2:n:1", "cache.set:a:1",
    ) == ["ok", "ok", *[DENIED] * 6, "none", "error not-found", "ok", "ok", "ok",
          "ok", "5", "6", DENIED]


def test_max_bytes_covers_the_namespace_and_every_bucket(run) -> None:
    assert run(
        "bytes", "cache.set:a:@10", "kv.set:b1:b:@10", "kv.set:b2:c:@11",
        "kv.set-many:b2:c=@5,d=@6", "kv.swap:default:e:@11", "kv.set:b2:c:@10",
        # a counter may need 20 bytes: refused while there is no room, allowed once there is
        "kv.increment:b1:n:1", "kv.delete:b1:b", "kv.delete-many:b2:c,d",
        "kv.increment:b1:n:1", "kv.get:b1:n",
    ) == ["ok", "ok", DENIED, DENIED, DENIED, "ok", DENIED, "ok", "ok", "1", "'1'"]


def test_the_quota_holds_across_runs(run, store_url: str) -> None:
    """Each run is a new process: the count is the backend's own (memory:// lives as long as
    one process, so there is nothing to carry over)."""
    if store_url.startswith("memory:"):
        pytest.skip("memory:// is one store per process")
    assert run("keys", "cache.set:a:1") == ["ok"]
    assert run("keys", "kv.set:b2:b:2") == ["ok"]
    assert run("keys", "kv.set:b1:c:3") == [DENIED]


def test_without_usage_one_count_serves_both_interfaces(wasmcache_memory_url: str) -> None:
    """A backend without `usage` is counted per process: the cache interface and every bucket
    share that one count, increments included."""
    backend = BareBackend(open_backend(wasmcache_memory_url))
    session = GuestSession(backend, unique_namespace(), policy=Policy(max_keys=1),
                           buckets=BUCKETS)
    kv = KeyValueHost(session)
    default, b1 = kv.open("default"), kv.open("b1")
    assert session.set("a", b"1") is None
    assert kv.set(default, "b", b"2") == ACCESS_DENIED  # type: ignore[arg-type]
    assert kv.increment(b1, "n", 1) == ACCESS_DENIED  # type: ignore[arg-type]
    assert session.get("b") == CacheError.NOT_FOUND
    # a second session over the same backend object (another run in this process) shares it
    again = GuestSession(backend, session.namespace, policy=Policy(max_keys=1), buckets=BUCKETS)
    assert again.set("c", b"3", None) == CacheError.ACCESS_DENIED
    assert again.delete("a") is None
    assert session.set("c", b"3", None) is None
