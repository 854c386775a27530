"""URL handling: our options are checked and stripped, bad ones named in one line, and the
schemes show up in `wasmcache backends` under wasmcache-sql."""

from __future__ import annotations

import pytest
from wasmcache import BackendUnavailable, WasmcacheError, open_backend
from wasmcache.testing.contract import unique_namespace
from wasmcache_sql import SqlBackend
from wasmcache_sql.options import parse_url

SQL_SCHEMES = ["sqlite", "postgresql", "postgresql+psycopg", "mysql", "mysql+pymysql",
               "mariadb", "mariadb+pymysql"]


@pytest.mark.parametrize(("query", "option"), [
    ("table=x;drop", "table"),
    ("table=1abc", "table"),
    ("table=" + "t" * 49, "table"),
    ("table=a&table=b", "table"),
    ("connect_timeout=soon", "connect_timeout"),
    ("connect_timeout=-1", "connect_timeout"),
    ("connect_timeout=nan", "connect_timeout"),
    ("pool_size=0", "pool_size"),
    ("pool_size=2.5", "pool_size"),
    ("purge_interval=-5", "purge_interval"),
    ("purge_batch=lots", "purge_batch"),
    ("busy_timeout=1", "busy_timeout"),  # sqlite only
])
def test_bad_option_is_one_line_naming_it(query: str, option: str) -> None:
    with pytest.raises(WasmcacheError, match=f"'{option}'") as info:
        open_backend(f"postgresql+psycopg://postgres@127.0.0.1:5432/test?{query}")
    assert "\n" not in str(info.value)


def test_sqlite_only_and_mysql_only_options_are_refused_elsewhere(tmp_path: object) -> None:
    with pytest.raises(WasmcacheError, match="'io_timeout'"):
        open_backend(f"sqlite:///{tmp_path}/x.db?io_timeout=3")


def test_sqlite_needs_a_file() -> None:
    with pytest.raises(WasmcacheError, match="sqlite needs a file"):
        open_backend("sqlite://")


def test_unsupported_driver_is_named() -> None:
    with pytest.raises(WasmcacheError, match="postgresql\\+asyncpg"):
        parse_url("postgresql+asyncpg://postgres@127.0.0.1/test")


def test_options_are_stripped_and_bare_schemes_use_the_extras_drivers() -> None:
    url, options = parse_url("postgresql://u@h/db?table=t1&connect_timeout=2.5&sslmode=disable"
                             "&pool_size=3&purge_interval=0&purge_batch=10")
    assert url.drivername == "postgresql+psycopg"
    assert dict(url.query) == {"sslmode": "disable"}  # the driver's own options stay
    assert (options.table, options.connect_timeout, options.pool_size) == ("t1", 2.5, 3)
    assert (options.purge_interval, options.purge_batch) == (0, 10)
    assert parse_url("mysql://root@h/db")[0].drivername == "mysql+pymysql"
    assert parse_url("mariadb://root@h/db")[0].drivername == "mariadb+pymysql"
    assert parse_url("sqlite:///x.db")[1].table == "wasmcache_entries"


def test_bare_postgresql_scheme_works(pg_url: str) -> None:
    backend = open_backend(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    namespace = unique_namespace()
    try:
        backend.set(namespace, b"k", b"v", None)
        assert backend.get(namespace, b"k") == b"v"
        backend.delete(namespace, b"k")
    finally:
        backend.close()


def test_server_errors_at_open_are_one_line() -> None:
    with pytest.raises(WasmcacheError, match="nosuchdb_for_wasmcache") as info:
        open_backend("postgresql+psycopg://postgres@127.0.0.1:5432/nosuchdb_for_wasmcache")
    assert "\n" not in str(info.value)
    with pytest.raises(WasmcacheError, match="Unknown database"):
        open_backend("mysql+pymysql://root@127.0.0.1:3306/nosuchdb_for_wasmcache")


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://postgres@127.0.0.1:1/test?connect_timeout=2",
    "mysql+pymysql://root@127.0.0.1:1/test?connect_timeout=2",
])
def test_unreachable_server_opens_and_calls_are_unavailable(url: str) -> None:
    """A host may start before its database: open succeeds, each call says unavailable."""
    backend = open_backend(url)
    assert isinstance(backend, SqlBackend)
    try:
        for call in (lambda: backend.get("ns", b"k"), lambda: backend.set("ns", b"k", b"v", None),
                     lambda: backend.delete("ns", b"k")):
            with pytest.raises(BackendUnavailable):
                call()
    finally:
        backend.close()


def test_backends_command_lists_the_sql_schemes(run_cli) -> None:  # type: ignore[no-untyped-def]
    result = run_cli("backends")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines()[1:] if line}
    for scheme in SQL_SCHEMES:
        assert rows.get(f"{scheme}://") == "wasmcache-sql", result.stdout
