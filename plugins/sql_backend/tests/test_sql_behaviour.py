"""What the SQL backend promises beyond the contract, on all three real servers.

One upsert statement per set, bound parameters only, the database clock deciding expiry, the
bounded sweep and its index, and the recorded schema version.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from wasmcache import WasmcacheError, open_backend
from wasmcache.testing.contract import unique_namespace
from wasmcache_sql import SCHEMA_VERSION, SqlBackend
from wasmcache_sql.statements import now_ms


def with_options(url: str, **options: object) -> str:
    """`url` with query options replaced or added."""
    parsed = make_url(url)
    query = {**parsed.query, **{k: str(v) for k, v in options.items()}}
    return parsed.set(query=query).render_as_string(hide_password=False)


@pytest.fixture
def backend(any_url: str) -> Iterator[SqlBackend]:
    """A backend on this session's table that never sweeps unless a test asks it to."""
    opened = open_backend(with_options(any_url, purge_batch=0))
    assert isinstance(opened, SqlBackend)
    try:
        yield opened
    finally:
        opened.close()


def count_rows(backend: SqlBackend, namespace: str) -> int:
    table = backend.table
    with backend.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)
                            .where(table.c.namespace == namespace)).scalar_one()


def server_now_ms(backend: SqlBackend) -> int:
    with backend.engine.connect() as conn:
        return int(conn.execute(sa.select(now_ms(backend.options.family))).scalar_one())


def test_set_is_one_upsert_statement(backend: SqlBackend) -> None:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        statements.append((statement, parameters))

    namespace = unique_namespace()
    sa.event.listen(backend.engine, "before_cursor_execute", capture)
    try:
        backend.set(namespace, b"k", b"first", None)  # insert
        backend.set(namespace, b"k", b"second", 60)  # update of the same row
    finally:
        sa.event.remove(backend.engine, "before_cursor_execute", capture)
        backend.delete(namespace, b"k")
    upsert = ("ON DUPLICATE KEY UPDATE" if backend.options.family == "mysql"
              else "ON CONFLICT")
    assert len(statements) == 2, statements
    for statement, parameters in statements:
        assert statement.lstrip().upper().startswith("INSERT INTO")
        assert upsert in statement.upper()
        assert "second" not in statement and "first" not in statement  # values are bound
        assert parameters  # ... and passed alongside


def test_hostile_key_is_bound_and_the_table_survives(backend: SqlBackend) -> None:
    namespace = unique_namespace()
    table = backend.table.name
    keys = ["'; DROP TABLE x; --", f"'; DROP TABLE {table}; --", f"\"); DROP TABLE {table}; --",
            "\\'; DELETE FROM " + table + "; --"]
    try:
        for key in keys:
            backend.set(namespace, key.encode(), key.encode() + b" value", None)
        for key in keys:
            assert backend.get(namespace, key.encode()) == key.encode() + b" value"
        assert sa.inspect(backend.engine).has_table(table)
        assert count_rows(backend, namespace) == len(keys)
    finally:
        for key in keys:
            backend.delete(namespace, key.encode())


def test_expiry_is_decided_by_the_database_clock(backend: SqlBackend,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows written with the server's 'now' in the past are hidden, whatever the host's clock."""
    namespace = unique_namespace()
    table = backend.table
    now = server_now_ms(backend)
    with backend.engine.connect() as conn:
        conn.execute(sa.insert(table), [
            {"namespace": namespace, "key": b"past", "value": b"x", "expires_at": now - 1000},
            {"namespace": namespace, "key": b"future", "value": b"y", "expires_at": now + 60_000},
        ])
    try:
        for skewed in (0.0, time.time() + 10 * 365 * 86400):  # host clock at 1970, or 10 y ahead
            monkeypatch.setattr(time, "time", lambda skewed=skewed: skewed)
            assert backend.get(namespace, b"past") is None
            assert backend.get(namespace, b"future") == b"y"
            backend.set(namespace, b"fresh", b"z", 60)
            assert backend.get(namespace, b"fresh") == b"z"
    finally:
        monkeypatch.undo()
        for key in (b"past", b"future", b"fresh"):
            backend.delete(namespace, key)


def test_sweep_purges_expired_rows_in_bounded_batches(any_url: str) -> None:
    swept = open_backend(with_options(any_url, purge_interval=3600, purge_batch=2))
    assert isinstance(swept, SqlBackend)
    namespace = unique_namespace()
    table = swept.table
    try:
        # rows that expired long ago, as another host (or a crashed one) would leave them
        with swept.engine.connect() as conn:
            conn.execute(sa.insert(table), [
                {"namespace": namespace, "key": b"old%d" % i, "value": b"v", "expires_at": 1}
                for i in range(5)
            ])
        swept.set(namespace, b"live", b"v", 3600)
        swept.set(namespace, b"forever", b"v", None)
        # each set sweeps at most 2 rows; a full batch makes the next set sweep again
        for _ in range(4):
            swept.set(namespace, b"live", b"v", 3600)
        assert count_rows(swept, namespace) == 2
        assert swept.get(namespace, b"live") == b"v"
        assert swept.get(namespace, b"forever") == b"v"
        assert swept.purge() == 0
    finally:
        with swept.engine.connect() as conn:
            conn.execute(sa.delete(table).where(table.c.namespace == namespace))
        swept.close()


def test_expiry_column_is_indexed_and_the_sweep_uses_the_index(backend: SqlBackend) -> None:
    table = backend.table
    indexes = sa.inspect(backend.engine).get_indexes(table.name)
    assert any(ix["column_names"] == ["expires_at"] for ix in indexes), indexes
    family = backend.options.family
    purge = backend._sql.purge
    sql = str(purge.compile(backend.engine))
    params = purge.compile(backend.engine).params
    with backend.engine.connect() as conn:
        if family == "postgresql":  # a tiny table would be seq-scanned: ask if the index *can* be
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN " + sql, params).fetchall()
            conn.exec_driver_sql("RESET enable_seqscan")
        elif family == "mysql":
            plan = conn.exec_driver_sql("EXPLAIN " + sql, tuple(params.values())).fetchall()
        else:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql,
                                        tuple(params.values())).fetchall()
    assert f"{table.name}_expires_at" in str(plan), plan


def test_schema_version_is_recorded_and_a_newer_one_is_refused(any_url: str,
                                                               sql_table: str) -> None:
    table = f"{sql_table}_v"
    url = with_options(any_url, table=table)
    first = open_backend(url)
    assert isinstance(first, SqlBackend)
    try:
        version_table = first.schema_table
        with first.engine.connect() as conn:
            assert conn.execute(sa.select(version_table.c.version)).scalars().all() == [
                SCHEMA_VERSION]
            conn.execute(sa.update(version_table).values(version=SCHEMA_VERSION + 1))
        with pytest.raises(WasmcacheError, match="newer"):
            open_backend(url)
    finally:
        with first.engine.connect() as conn:
            for name in (table, f"{table}_schema"):
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        first.close()


@pytest.mark.parametrize("byte", [b"\0", b"'", b"\xff"])
def test_one_mib_of_bytes_that_need_escaping(backend: SqlBackend, byte: bytes) -> None:
    """PyMySQL escapes NUL and quotes to two bytes: 1 MiB of them still fits the packet."""
    namespace = unique_namespace()
    value = byte * (1024 * 1024)
    try:
        backend.set(namespace, b"big", value, None)
        assert backend.get(namespace, b"big") == value
    finally:
        backend.delete(namespace, b"big")


def test_mysql_max_allowed_packet_is_large_enough(mysql_url: str) -> None:
    backend = open_backend(mysql_url)
    assert isinstance(backend, SqlBackend)
    try:
        with backend.engine.connect() as conn:
            packet = conn.exec_driver_sql("SELECT @@max_allowed_packet").scalar_one()
        assert packet >= 2 * 1024 * 1024 + 64 * 1024
    finally:
        backend.close()
