"""Private servers that require TLS and a password, for the security tests.

Built on the repository's own child-process helpers (`RedisProcess` of the Redis plugin's
tests, `PrivatePostgres` and `PrivateMariadb` of the SQL plugin's outage tests): free loopback
ports, temporary directories, stopped at the end. Every server presents the session's test
PKI (`wasmcache.testing.tls`) and every account has the one recognisable `PASSWORD`, so that
test_secrets can look for it in everything wasmcache prints.

`presenting(pair)` makes a running server present another certificate (the expired or the
wrong-host one) until the block ends: Redis through ``CONFIG SET tls-cert-file``, PostgreSQL
through ``pg_reload_conf()``, MariaDB through ``FLUSH SSL``; new connections see it at once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import plugin_helpers
import redis
import sqlalchemy as sa
from wasmcache.testing.tls import CLIENT_NAME, KeyPair, TestPki

#: The password of every account below, and the wrong one the refusal cases give; test_secrets
#: looks for both (raw and percent-encoded) in everything wasmcache prints.
PASSWORD = "Canary:7Hq/2x@9z"
QUOTED = quote(PASSWORD, safe="")
WRONG_PASSWORD = "Wrong-Canary:4Kd/8p@1y"
WRONG_QUOTED = quote(WRONG_PASSWORD, safe="")
#: Redis ACL user, allowed every command on keys under `ACL_PREFIX` only.
ACL_USER, ACL_PREFIX = "wcuser", "sec-"
#: PostgreSQL roles and databases (the client certificate's CN is the role `CLIENT_NAME`).
PG_DB, PG_CERT_DB, NO_PERM_USER = "wcdb", "certdb", "noperm"
#: MariaDB accounts: `CLIENT_NAME` REQUIRE SSL, `X509_USER` REQUIRE X509, NO_PERM_USER SELECT only.
X509_USER = "wcx509"
MARIADB_DB = "wasmcache"


RedisProcess = plugin_helpers.REDIS.RedisProcess


def query(**options: object) -> str:
    """``?a=1&b=2`` with each value percent-encoded; None values are left out."""
    pairs = [f"{name}={quote(str(value), safe='')}" for name, value in options.items()
             if value is not None]
    return "?" + "&".join(pairs) if pairs else ""


class Presenting:
    """`presenting(pair)`: serve another certificate for a while; `_present` installs the
    files and makes the server read them again."""

    pki: TestPki

    def _present(self, pair: KeyPair) -> None:
        raise NotImplementedError

    @contextmanager
    def presenting(self, pair: KeyPair) -> Iterator[None]:
        self._present(pair)
        try:
            yield
        finally:
            self._present(self.pki.server)


# --- Redis ------------------------------------------------------------------------------------
def _tls_args(pki: TestPki, port: int, client_certs: bool) -> list[str]:
    return ["--port", "0", "--tls-port", str(port),
            "--tls-cert-file", str(pki.server.cert), "--tls-key-file", str(pki.server.key),
            "--tls-ca-cert-file", str(pki.ca),
            "--tls-auth-clients", "yes" if client_certs else "no",
            "--requirepass", PASSWORD, "--appendonly", "no"]


def _tls_client(pki: TestPki, client_certs: bool) -> dict[str, object]:
    client: dict[str, object] = {"ssl": True, "ssl_ca_certs": str(pki.ca)}
    if client_certs:
        client.update(ssl_certfile=str(pki.client.cert), ssl_keyfile=str(pki.client.key))
    return client


class TlsRedis(Presenting):
    """A redis-server that speaks TLS only and requires `PASSWORD` (and the ACL user
    `ACL_USER`); with `client_certs`, also a client certificate signed by the test CA."""

    def __init__(self, directory: Path, pki: TestPki, client_certs: bool = False) -> None:
        self.pki, self.client_certs = pki, client_certs
        port = plugin_helpers.REDIS.free_port()
        self.proc = RedisProcess(directory, *_tls_args(pki, port, client_certs), port=port,
                                 client=_tls_client(pki, client_certs))
        self.port = port

    def start(self) -> TlsRedis:
        self.proc.start()
        with self.admin() as admin:
            admin.acl_setuser(ACL_USER, enabled=True, passwords=[f"+{PASSWORD}"],
                              keys=[f"{ACL_PREFIX}*"], commands=["+@all"])
        return self

    def stop(self) -> None:
        self.proc.stop()

    def admin(self) -> redis.Redis:
        """A client that trusts whatever certificate the server presents now (see
        `presenting`): the tests' own back door, never a wasmcache URL."""
        tls = {**_tls_client(self.pki, self.client_certs), "ssl_cert_reqs": "none",
               "ssl_check_hostname": False}
        return redis.Redis(host="127.0.0.1", port=self.port, password=PASSWORD, socket_timeout=5,
                           **tls)  # type: ignore[arg-type]

    def tls_url(self, *, user: str = "", password: str | None = QUOTED, ca: Path | None = None,
                system_ca: bool = False, client_cert: bool | None = None,
                host: str = "127.0.0.1", db: int = 0, scheme: str = "rediss",
                **options: object) -> str:
        """A rediss:// URL; the test CA (or, with `system_ca`, none: the system's) and, on a
        client-certificate server, the client certificate unless told otherwise; `password`
        already percent-encoded."""
        login = f"{user}:{password}@" if password is not None else (f"{user}@" if user else "")
        use_cert = self.client_certs if client_cert is None else client_cert
        path = "" if "cluster" in scheme else f"/{db}"
        return (f"{scheme}://{login}{host}:{self.port}{path}" + query(
            ssl_ca_certs=None if system_ca else ca or self.pki.ca,
            ssl_certfile=self.pki.client.cert if use_cert else None,
            ssl_keyfile=self.pki.client.key if use_cert else None, **options))

    def _present(self, pair: KeyPair) -> None:
        with self.admin() as admin:
            admin.config_set("tls-cert-file", str(pair.cert), "tls-key-file", str(pair.key))


def _wait_cluster_ok(clients: list[redis.Redis], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for client in clients:
        while b"cluster_state:ok" not in plugin_helpers.REDIS._cluster_info(client):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not reach cluster_state:ok")
            time.sleep(0.1)


def _create_cluster(ports: list[int], replicas: int, tls: TestPki | None) -> None:
    tls_args = ["--tls", "--cacert", str(tls.ca)] if tls is not None else []
    subprocess.run(
        [str(plugin_helpers.REDIS.REDIS_CLI), *tls_args, "--cluster", "create",
         *(f"127.0.0.1:{port}" for port in ports), "--cluster-replicas", str(replicas),
         "--cluster-yes"],
        check=True, capture_output=True, timeout=60,
        env={**os.environ, "REDISCLI_AUTH": PASSWORD} if tls is not None else None)


class _Cluster:
    """Redis Cluster nodes started together: stopped together, named together in one URL."""

    nodes: list[RedisProcess]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    def _url(self, start: str, query_string: str) -> str:
        """`start` (scheme and login) with the first node, then every other node as &node=."""
        first, *others = (node.port for node in self.nodes)
        nodes = "".join(f"&node=127.0.0.1:{port}" for port in others)
        return f"{start}127.0.0.1:{first}{query_string}{nodes}"


class TlsCluster(_Cluster):
    """Three Redis Cluster masters on TLS only (client, bus and replication), requiring
    `PASSWORD`."""

    def __init__(self, directory: Path, pki: TestPki) -> None:
        self.pki = pki
        self.nodes: list[RedisProcess] = []
        for _ in range(3):
            port = plugin_helpers.REDIS.free_port(bus=True)
            self.nodes.append(RedisProcess(
                directory, *_tls_args(pki, port, False), "--masterauth", PASSWORD,
                "--tls-cluster", "yes", "--tls-replication", "yes",
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(directory / f"nodes-{port}.conf"),
                port=port, client=_tls_client(pki, False)))

    def start(self) -> TlsCluster:
        try:
            for node in self.nodes:
                node.start()
            _create_cluster([node.port for node in self.nodes], 0, self.pki)
            clients = [redis.Redis(port=node.port, password=PASSWORD, socket_timeout=2,
                                   **_tls_client(self.pki, False))  # type: ignore[arg-type]
                       for node in self.nodes]
            _wait_cluster_ok(clients, "the TLS cluster")
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise
        return self

    def tls_url(self, *, password: str | None = QUOTED, ca: Path | None = None,
                scheme: str = "rediss+cluster", **options: object) -> str:
        login = f":{password}@" if password is not None else ""
        return self._url(f"{scheme}://{login}", query(ssl_ca_certs=ca or self.pki.ca, **options))


class FailoverCluster(_Cluster):
    """Three masters with one replica each, plain TCP, failing over after `node_timeout_ms`."""

    def __init__(self, directory: Path, node_timeout_ms: int = 500) -> None:
        self.nodes: list[RedisProcess] = []
        for _ in range(6):
            port = plugin_helpers.REDIS.free_port(bus=True)
            self.nodes.append(RedisProcess(
                directory, "--cluster-enabled", "yes",
                "--cluster-config-file", str(directory / f"nodes-{port}.conf"),
                "--cluster-node-timeout", str(node_timeout_ms), "--appendonly", "no",
                port=port))

    def start(self) -> FailoverCluster:
        try:
            for node in self.nodes:
                node.start()
            _create_cluster([node.port for node in self.nodes], 1, None)
            clients = [redis.Redis(port=node.port, socket_timeout=2) for node in self.nodes]
            _wait_cluster_ok(clients, "the failover cluster")
            deadline = time.monotonic() + 60
            for client in clients:  # every replica has synced with its master
                while True:
                    info = client.info("replication")
                    if info["role"] == "master" or info.get("master_link_status") == "up":
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("a replica of the failover cluster did not sync")
                    time.sleep(0.1)
            for client in clients:
                client.close()
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, **options: object) -> str:
        return self._url("redis+cluster://", query(**options))

    def master_of(self, key: bytes) -> RedisProcess:
        """The node that serves `key`'s slot now (asking the nodes that are running)."""
        alive = [redis.cluster.ClusterNode("127.0.0.1", node.port) for node in self.nodes
                 if node.process is not None]
        with redis.cluster.RedisCluster(startup_nodes=alive) as client:
            port = client.get_node_from_key(key).port
        return next(node for node in self.nodes if node.port == port)


# --- PostgreSQL and MariaDB ------------------------------------------------------------------
class TlsPostgres(Presenting, plugin_helpers.SQL_SERVERS.PrivatePostgres):  # type: ignore[misc, name-defined]
    """PostgreSQL with ssl=on and a pg_hba.conf that takes TLS only, with scram-sha-256
    passwords; database `PG_CERT_DB` also requires a client certificate (verify-full)."""

    def __init__(self, pki: TestPki) -> None:
        super().__init__()  # initdb
        self.pki = pki
        self.tls = self.dir / "tls"
        pki.install(pki.server, self.tls, owner=self._owner())
        hba = self.dir / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            f"hostssl {PG_CERT_DB} all 127.0.0.1/32 scram-sha-256 clientcert=verify-full\n"
            "hostssl all all 127.0.0.1/32 scram-sha-256\n")
        if self._owner():
            shutil.chown(hba, "postgres", "postgres")
        self.extra_options = (
            f"-c ssl=on -c ssl_cert_file={self.tls}/server.pem "
            f"-c ssl_key_file={self.tls}/server.key -c ssl_ca_file={self.tls}/ca.pem "
            f"-c hba_file={hba} -c password_encryption=scram-sha-256")

    @staticmethod
    def _owner() -> str | None:
        return "postgres" if os.geteuid() == 0 else None

    def _admin(self) -> sa.Engine:
        return sa.create_engine(
            f"postgresql+psycopg://postgres@/postgres?host={self.dir}&port={self.port}",
            poolclass=sa.NullPool, isolation_level="AUTOCOMMIT")

    def start(self) -> None:
        super().start()
        engine = self._admin()
        literal = PASSWORD.replace("'", "''")
        try:
            with engine.connect() as conn:
                exists = conn.exec_driver_sql(
                    f"SELECT 1 FROM pg_roles WHERE rolname = '{CLIENT_NAME}'").scalar()
                if exists:
                    return
                for role in (CLIENT_NAME, NO_PERM_USER):
                    conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{literal}'")
                for database in (PG_DB, PG_CERT_DB):
                    conn.exec_driver_sql(f"CREATE DATABASE {database} OWNER {CLIENT_NAME}")
        finally:
            engine.dispose()

    def tls_url(self, *, user: str = CLIENT_NAME, password: str | None = QUOTED,
                database: str = PG_DB, host: str = "127.0.0.1",
                sslmode: str | None = "verify-full", ca: Path | None = None,
                client_cert: bool = False, **options: object) -> str:
        login = f"{user}:{password}@" if password is not None else f"{user}@"
        return (f"postgresql+psycopg://{login}{host}:{self.port}/{database}" + query(
            sslmode=sslmode, sslrootcert=ca or self.pki.ca,
            sslcert=self.pki.client.cert if client_cert else None,
            sslkey=self.pki.client.key if client_cert else None, **options))

    def _present(self, pair: KeyPair) -> None:
        self.pki.install(pair, self.tls, owner=self._owner())
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT pg_reload_conf()")
        finally:
            engine.dispose()


class TlsMariadb(Presenting, plugin_helpers.SQL_SERVERS.PrivateMariadb):  # type: ignore[misc, name-defined]
    """MariaDB with TLS: `CLIENT_NAME` REQUIRE SSL, `X509_USER` REQUIRE X509 (a client
    certificate signed by the test CA), `NO_PERM_USER` may only SELECT."""

    def __init__(self, pki: TestPki) -> None:
        super().__init__()  # mariadb-install-db
        self.pki = pki
        self.tls = self.dir / "tls"
        pki.install(pki.server, self.tls, owner="mysql" if os.geteuid() == 0 else None)
        self.extra_args = (f"--ssl-ca={self.tls}/ca.pem", f"--ssl-cert={self.tls}/server.pem",
                           f"--ssl-key={self.tls}/server.key")

    def _admin(self) -> sa.Engine:
        return sa.create_engine(self.url, poolclass=sa.NullPool)  # root, no TLS needed

    def start(self) -> None:
        super().start()  # also creates the database `wasmcache`
        literal = PASSWORD.replace("\\", "\\\\").replace("'", "\\'")
        engine = self._admin()
        try:
            with engine.connect() as conn:
                for user, require, grant in ((CLIENT_NAME, "SSL", "ALL"),
                                             (X509_USER, "X509", "ALL"),
                                             (NO_PERM_USER, "SSL", "SELECT")):
                    conn.exec_driver_sql(f"CREATE USER IF NOT EXISTS '{user}'@'%%' "
                                         f"IDENTIFIED BY '{literal}' REQUIRE {require}")
                    conn.exec_driver_sql(f"GRANT {grant} ON {MARIADB_DB}.* TO '{user}'@'%%'")
                conn.commit()
        finally:
            engine.dispose()

    def tls_url(self, *, user: str = CLIENT_NAME, password: str | None = QUOTED,
                host: str = "127.0.0.1", ca: Path | None = None, tls: bool = True,
                client_cert: bool = False, database: str = MARIADB_DB,
                **options: object) -> str:
        login = f"{user}:{password}@" if password is not None else f"{user}@"
        return (f"mysql+pymysql://{login}{host}:{self.port}/{database}" + query(
            ssl_ca=(ca or self.pki.ca) if tls else None,
            ssl_cert=self.pki.client.cert if client_cert else None,
            ssl_key=self.pki.client.key if client_cert else None, **options))

    def _present(self, pair: KeyPair) -> None:
        self.pki.install(pair, self.tls, owner="mysql" if os.geteuid() == 0 else None)
        engine = self._admin()
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("FLUSH SSL")
        finally:
            engine.dispose()
