"""The backend contract suite and the example guest over verified TLS, with a password, on a
private Redis (an ACL user), Redis Cluster, PostgreSQL (scram-sha-256) and MariaDB; and with a
client certificate where the server requires one."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from wasmcache import open_backend
from wasmcache.testing import BackendContractTests
from wasmcache.testing.contract import unique_namespace

from .servers import ACL_PREFIX, ACL_USER, PG_CERT_DB, X509_USER

SESSION_PREFIX = f"{ACL_PREFIX}{uuid.uuid4().hex[:8]}:"


class TestRedisOverTls(BackendContractTests):
    """rediss:// verified against the test CA, as the ACL user (keys under its prefix only)."""

    @pytest.fixture
    def backend_url(self, tls_redis) -> str:  # type: ignore[no-untyped-def]
        return tls_redis.tls_url(user=ACL_USER, prefix=SESSION_PREFIX)


class TestRedisClusterOverTls(BackendContractTests):
    """rediss+cluster:// verified against the test CA: client, bus and replication on TLS."""

    @pytest.fixture
    def backend_url(self, tls_cluster) -> str:  # type: ignore[no-untyped-def]
        return tls_cluster.tls_url()


class TestPostgresqlOverTls(BackendContractTests):
    """sslmode=verify-full with the test CA, scram-sha-256 password (pg_hba: hostssl only)."""

    @pytest.fixture
    def backend_url(self, tls_postgres) -> str:  # type: ignore[no-untyped-def]
        return tls_postgres.tls_url()


class TestMariadbOverTls(BackendContractTests):
    """ssl_ca with the test CA (PyMySQL then verifies the certificate and the host name), an
    account that REQUIREs SSL."""

    @pytest.fixture
    def backend_url(self, tls_mariadb) -> str:  # type: ignore[no-untyped-def]
        return tls_mariadb.tls_url()


def _urls(request: pytest.FixtureRequest) -> dict[str, str]:
    """Each backend's verified-TLS URL, and its client-certificate one."""
    name = request.param
    if name == "redis":
        return {"tls": request.getfixturevalue("tls_redis").tls_url(),
                "client-cert": request.getfixturevalue("client_cert_redis").tls_url()}
    if name == "redis-cluster":
        return {"tls": request.getfixturevalue("tls_cluster").tls_url()}
    if name == "postgresql":
        server = request.getfixturevalue("tls_postgres")
        return {"tls": server.tls_url(),
                "client-cert": server.tls_url(database=PG_CERT_DB, client_cert=True)}
    server = request.getfixturevalue("tls_mariadb")
    return {"tls": server.tls_url(),
            "client-cert": server.tls_url(user=X509_USER, client_cert=True)}


@pytest.fixture(params=["redis", "redis-cluster", "postgresql", "mariadb"])
def secured(request: pytest.FixtureRequest) -> dict[str, str]:
    return _urls(request)


@pytest.mark.slow
def test_example_guest_over_verified_tls(secured: dict[str, str], hello_guest: Path,
                                         run_cli, tour: str) -> None:  # type: ignore[no-untyped-def]
    """The tour prints exactly its expected output through every secured URL, and the run
    logs nothing (no warning: the check before it found the server as configured)."""
    for kind, url in secured.items():
        done = run_cli("run", "--backend", url, "--namespace", unique_namespace(),
                       str(hello_guest))
        assert (done.returncode, done.stderr) == (0, ""), (kind, done.stderr)
        assert done.stdout == tour, kind


def test_sql_connections_really_use_tls(tls_postgres, tls_mariadb) -> None:  # type: ignore[no-untyped-def]
    """The backends' own pooled connections are encrypted (not merely allowed to be)."""
    for url, query in ((tls_postgres.tls_url(),
                        "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
                       (tls_mariadb.tls_url(), "SHOW STATUS LIKE 'Ssl_version'")):
        backend = open_backend(url, check=True)
        try:
            with backend.engine.connect() as conn:  # type: ignore[attr-defined]
                row = conn.execute(sa.text(query)).one()
        finally:
            backend.close()
        assert row[-1] in ("true", "TLSv1.2", "TLSv1.3"), (url, row)
