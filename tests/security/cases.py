"""Every misconfiguration and outage the security tests try, defined once.

`MISCONFIGURED`: the server answers but refuses (login, TLS verification, client certificate,
database, permission, the wrong kind of Redis): `wasmcache run` must end in one line and exit
2 before the guest starts. `UNREACHABLE`: nothing listens: the guest runs and its calls answer
``unavailable``. Each URL holds a recognisable password (`PASSWORD` or `WRONG_PASSWORD`), so
test_secrets can check that none of them is ever printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import plugin_helpers
import pytest
from wasmcache import BackendMisconfigured, open_backend
from wasmcache.testing.tls import TestPki

from .servers import (
    NO_PERM_USER,
    PG_CERT_DB,
    QUOTED,
    WRONG_QUOTED,
    X509_USER,
    query,
)

Url = Callable[[Any, TestPki], str]


@dataclass(frozen=True)
class Case:
    """One configuration to try: the server fixture, how to build the URL, the certificate the
    server presents meanwhile (a `TestPki` attribute) and words the one line must hold."""

    id: str
    server: str | None
    url: Url
    expect: tuple[str, ...] = ()
    presenting: str | None = None


def _free_port() -> int:
    return plugin_helpers.REDIS.free_port()


MISCONFIGURED = [
    # --- one Redis server over TLS (requirepass, the ACL user) ---
    Case("redis-wrong-password", "tls_redis",
         lambda s, p: s.tls_url(password=WRONG_QUOTED), ("refused the login",)),
    Case("redis-no-password", "tls_redis",
         lambda s, p: s.tls_url(password=None), ("requires a password",)),
    Case("redis-unknown-acl-user", "tls_redis",
         lambda s, p: s.tls_url(user="nobody"), ("refused the login",)),
    Case("redis-wrong-ca", "tls_redis",
         lambda s, p: s.tls_url(ca=p.other_ca), ("TLS verification", "not signed by a CA")),
    Case("redis-system-cas-only", "tls_redis",
         lambda s, p: s.tls_url(system_ca=True), ("TLS verification", "ssl_ca_certs")),
    Case("redis-wrong-host-certificate", "tls_redis",
         lambda s, p: s.tls_url(), ("TLS verification", "another name"), "wrong_host"),
    Case("redis-expired-certificate", "tls_redis",
         lambda s, p: s.tls_url(), ("TLS verification", "expired"), "expired"),
    Case("redis-client-certificate-missing", "client_cert_redis",
         lambda s, p: s.tls_url(client_cert=False), ("client certificate", "ssl_certfile")),
    Case("redis-no-such-database", "tls_redis",
         lambda s, p: s.tls_url(db=99), ("no database 99",)),
    Case("redis-cluster-url-at-a-server", "tls_redis",
         lambda s, p: s.tls_url(scheme="rediss+cluster"), ("not in cluster mode",)),
    Case("redis-ca-file-missing", "tls_redis",
         lambda s, p: s.tls_url(ca=Path("/nonexistent/ca.pem")), ("ssl_ca_certs", "no such file")),
    # --- Redis Cluster over TLS ---
    Case("cluster-wrong-password", "tls_cluster",
         lambda s, p: s.tls_url(password=WRONG_QUOTED), ("refused the login",)),
    Case("cluster-wrong-ca", "tls_cluster",
         lambda s, p: s.tls_url(ca=p.other_ca), ("TLS verification",)),
    Case("cluster-node-as-a-server", "tls_cluster",
         lambda s, p: f"rediss://:{QUOTED}@127.0.0.1:{s.nodes[0].port}/0"
                      + query(ssl_ca_certs=p.ca), ("Redis Cluster node", "rediss+cluster://")),
    # --- PostgreSQL: ssl=on, hostssl + scram-sha-256 ---
    Case("postgresql-wrong-password", "tls_postgres",
         lambda s, p: s.tls_url(password=WRONG_QUOTED), ("refused the password",)),
    Case("postgresql-no-password", "tls_postgres",
         lambda s, p: s.tls_url(password=None), ("requires a password",)),
    Case("postgresql-wrong-ca", "tls_postgres",
         lambda s, p: s.tls_url(ca=p.other_ca), ("TLS verification", "sslrootcert")),
    Case("postgresql-wrong-host-name", "tls_postgres",
         lambda s, p: s.tls_url(host="wrong-host.invalid", hostaddr="127.0.0.1"),
         ("TLS verification", "another name")),
    Case("postgresql-wrong-host-certificate", "tls_postgres",
         lambda s, p: s.tls_url(), ("TLS verification", "another name"), "wrong_host"),
    Case("postgresql-expired-certificate", "tls_postgres",
         lambda s, p: s.tls_url(), ("TLS verification", "certificate verify failed"),
         "expired"),
    Case("postgresql-without-tls", "tls_postgres",
         lambda s, p: s.tls_url(sslmode="disable"), ("pg_hba.conf", "sslmode=verify-full")),
    Case("postgresql-client-certificate-missing", "tls_postgres",
         lambda s, p: s.tls_url(database=PG_CERT_DB), ("client certificate", "sslcert")),
    Case("postgresql-no-such-database", "tls_postgres",
         lambda s, p: s.tls_url(database="nosuchdb"), ("no database 'nosuchdb'",)),
    Case("postgresql-no-permission-to-create-the-table", "tls_postgres",
         lambda s, p: s.tls_url(user=NO_PERM_USER, table="denied_here"),
         ("may not create", "GRANT CREATE")),
    # --- MariaDB: an account that REQUIREs SSL, one that REQUIREs X509 ---
    Case("mariadb-wrong-password", "tls_mariadb",
         lambda s, p: s.tls_url(password=WRONG_QUOTED), ("refused the login",)),
    Case("mariadb-wrong-ca", "tls_mariadb",
         lambda s, p: s.tls_url(ca=p.other_ca), ("TLS verification", "ssl_ca")),
    Case("mariadb-wrong-host-certificate", "tls_mariadb",
         lambda s, p: s.tls_url(), ("TLS verification", "another name"), "wrong_host"),
    Case("mariadb-expired-certificate", "tls_mariadb",
         lambda s, p: s.tls_url(), ("TLS verification", "expired"), "expired"),
    Case("mariadb-client-certificate-missing", "tls_mariadb",
         lambda s, p: s.tls_url(user=X509_USER), ("refused the login", "X509")),
    Case("mariadb-no-such-database", "tls_mariadb",
         lambda s, p: s.tls_url(database="nosuchdb"), ("may not use database 'nosuchdb'",)),
    Case("mariadb-no-permission-to-create-the-table", "tls_mariadb",
         lambda s, p: s.tls_url(user=NO_PERM_USER, table="denied_here"),
         ("may not create", "GRANT CREATE")),
]

UNREACHABLE = [
    Case("redis-nothing-listening", None,
         lambda s, p: f"rediss://:{QUOTED}@127.0.0.1:{_free_port()}/0"
                      + query(ssl_ca_certs=p.ca, socket_connect_timeout=1)),
    Case("cluster-nothing-listening", None,
         lambda s, p: f"rediss+cluster://:{QUOTED}@127.0.0.1:{_free_port()}"
                      + query(ssl_ca_certs=p.ca, socket_connect_timeout=1)),
    Case("postgresql-nothing-listening", None,
         lambda s, p: f"postgresql+psycopg://wasmcache:{QUOTED}@127.0.0.1:{_free_port()}/wcdb"
                      + query(sslmode="verify-full", sslrootcert=p.ca, connect_timeout=2)),
    Case("mariadb-nothing-listening", None,
         lambda s, p: f"mysql+pymysql://wasmcache:{QUOTED}@127.0.0.1:{_free_port()}/wasmcache"
                      + query(ssl_ca=p.ca, connect_timeout=2)),
]


@contextmanager
def arranged(case: Case, request: pytest.FixtureRequest) -> Iterator[str]:
    """The case's URL, with its server started and presenting the case's certificate (waiting
    until new connections see it: PostgreSQL reloads asynchronously)."""
    pki = request.getfixturevalue("wasmcache_test_pki")
    server = request.getfixturevalue(case.server) if case.server else None
    url = case.url(server, pki)
    if case.presenting is None:
        yield url
        return
    with server.presenting(getattr(pki, case.presenting)):  # type: ignore[union-attr]
        _wait_for_refusal(url, case.expect)
        yield url


def _wait_for_refusal(url: str, words: tuple[str, ...], timeout: float = 20) -> None:
    deadline, last = time.monotonic() + timeout, ""
    while time.monotonic() < deadline:
        try:
            open_backend(url, check=True).close()
        except BackendMisconfigured as exc:
            last = str(exc)
            if all(word in last for word in words):
                return
        time.sleep(0.2)
    raise AssertionError(f"the server did not start presenting the new certificate: {last}")


def one_error_line(stderr: str) -> str:
    """The one line a refused command prints; fails unless it is exactly one, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("wasmcache: error: "), stderr
    return lines[0]
