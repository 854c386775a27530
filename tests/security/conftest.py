"""Session-wide private servers with TLS and passwords (see servers.py), shared by every
security test so that each starts once: `make test` stays fast."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from wasmcache.testing.tls import TestPki

from .servers import TlsCluster, TlsMariadb, TlsPostgres, TlsRedis


def _started(make: Callable[[], Any]) -> Iterator[Any]:
    server = make()
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if hasattr(server, "remove"):
            server.remove()


@pytest.fixture(scope="session")
def tls_redis(tmp_path_factory: pytest.TempPathFactory,
              wasmcache_test_pki: TestPki) -> Iterator[TlsRedis]:
    """TLS only, requirepass and the ACL user; no client certificate needed."""
    yield from _started(lambda: TlsRedis(tmp_path_factory.mktemp("tls-redis"),
                                         wasmcache_test_pki))


@pytest.fixture(scope="session")
def client_cert_redis(tmp_path_factory: pytest.TempPathFactory,
                      wasmcache_test_pki: TestPki) -> Iterator[TlsRedis]:
    """TLS only with --tls-auth-clients yes: a client certificate of the test CA required."""
    yield from _started(lambda: TlsRedis(tmp_path_factory.mktemp("cert-redis"),
                                         wasmcache_test_pki, client_certs=True))


@pytest.fixture(scope="session")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory,
                wasmcache_test_pki: TestPki) -> Iterator[TlsCluster]:
    yield from _started(lambda: TlsCluster(tmp_path_factory.mktemp("tls-cluster"),
                                           wasmcache_test_pki))


@pytest.fixture(scope="session")
def tls_postgres(wasmcache_test_pki: TestPki) -> Iterator[TlsPostgres]:
    yield from _started(lambda: TlsPostgres(wasmcache_test_pki))


@pytest.fixture(scope="session")
def tls_mariadb(wasmcache_test_pki: TestPki) -> Iterator[TlsMariadb]:
    yield from _started(lambda: TlsMariadb(wasmcache_test_pki))


@pytest.fixture(scope="session")
def tour() -> str:
    return (Path(__file__).resolve().parents[2] / "examples" / "hello_cache"
            / "expected_output.txt").read_text()
