"""The hot path on the DBAPI cursor (wasmcache_sql.driver) against SQLAlchemy's own execution.

get / set / delete run SQLAlchemy's compiled string on the cursor with parameters bound by
`DriverStatement`; these tests fail if that drifts from what `Connection.execute` sends (SQL,
parameter order, processed values), if it leaves a transaction open, or if its errors stop
looking like SQLAlchemy's (a killed session is replaced and the call retried; a bad request
propagates).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from wasmcache import BackendUnavailable, open_backend
from wasmcache.testing.contract import unique_namespace
from wasmcache_sql import SqlBackend
from wasmcache_sql.backend import HOT_STATEMENTS, _observed


@pytest.fixture
def backend(any_url: str) -> Iterator[SqlBackend]:
    """A backend whose hot path has run once, so its statements are compiled."""
    opened = open_backend(f"{any_url}&purge_batch=0")
    assert isinstance(opened, SqlBackend)
    try:
        assert opened.get(unique_namespace(), b"warm-up") is None
        yield opened
    finally:
        opened.close()


@pytest.fixture(params=["pg_url", "mysql_url"])
def server_backend(request: pytest.FixtureRequest) -> Iterator[tuple[SqlBackend, str]]:
    """A backend on each database server in turn, with key "k" = "v" in a fresh namespace."""
    opened = open_backend(f"{request.getfixturevalue(request.param)}&purge_batch=0")
    assert isinstance(opened, SqlBackend)
    namespace = unique_namespace()
    try:
        opened.set(namespace, b"k", b"v", None)
        yield opened, namespace
    finally:
        opened.delete(namespace, b"k")
        opened.close()


def _normalized(value: Any) -> Any:
    """A bound value as a comparable (type, content): memoryview, psycopg Binary, bytes..."""
    content = getattr(value, "obj", value)  # psycopg's Binary wraps the bytes in .obj
    if isinstance(content, (bytes, bytearray, memoryview)):
        return type(value).__name__, bytes(content)
    return value


def _normalized_params(params: Any) -> Any:
    if isinstance(params, dict):
        return {name: _normalized(value) for name, value in params.items()}
    return tuple(_normalized(value) for value in params)


def test_compiled_statements_match_what_core_sends(backend: SqlBackend) -> None:
    namespace = unique_namespace()
    params = {"p_ns": namespace, "p_key": b"k", "p_value": b"v" * 100, "p_ttl_ms": 60_000}
    driver = backend._driver
    assert driver is not None
    assert all(driver[name] is not None for name in HOT_STATEMENTS), driver  # no fallback
    assert not _observed(backend._local.conn)  # ... and the cursor is what the calls used
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
        sent.append((statement, parameters))

    with backend.engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", capture)
        for name in HOT_STATEMENTS:
            statement = getattr(backend._sql, name)
            bound = {key: params[key] for key in statement.compile().params}
            sent.clear()
            conn.execute(statement, bound)
            compiled = driver[name]
            assert compiled is not None
            assert sent == [(compiled.sql, sent[0][1])], name
            assert _normalized_params(sent[0][1]) == _normalized_params(
                compiled.parameters(bound)), name


def test_hot_path_and_core_read_and_write_the_same_rows(backend: SqlBackend) -> None:
    namespace = unique_namespace()
    table = backend.table

    def core_value(key: bytes) -> bytes | None:
        with backend.engine.connect() as conn:
            value = conn.execute(sa.select(table.c.value).where(
                table.c.namespace == namespace, table.c.key == key)).scalar()
        return None if value is None else bytes(value)

    try:
        backend.set(namespace, b"hot", b"written by the hot path", 60)
        assert core_value(b"hot") == b"written by the hot path"  # committed, same columns
        with backend.engine.connect() as conn:
            conn.execute(sa.insert(table), {"namespace": namespace, "key": b"core",
                                            "value": b"written by core", "expires_at": None})
        assert backend.get(namespace, b"core") == b"written by core"
        assert backend.get(namespace, b"hot") == b"written by the hot path"
        assert backend.get(namespace, b"missing") is None
        backend.delete(namespace, b"core")
        assert core_value(b"core") is None
        assert core_value(b"hot") == b"written by the hot path"  # only the one row went
    finally:
        with backend.engine.connect() as conn:
            conn.execute(sa.delete(table).where(table.c.namespace == namespace))


def _in_transaction(backend: SqlBackend) -> bool:
    """Whether this thread's kept DBAPI connection has a transaction open, per driver."""
    dbapi = backend._local.dbapi
    family = backend.options.family
    if family == "sqlite":
        return bool(dbapi.in_transaction)
    if family == "postgresql":
        import psycopg

        return dbapi.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
    from pymysql.constants import SERVER_STATUS

    return bool(dbapi.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS)


def test_hot_path_leaves_no_transaction_open(backend: SqlBackend) -> None:
    namespace = unique_namespace()
    try:
        backend.set(namespace, b"k", b"v", None)
        assert not _in_transaction(backend)
        assert backend.get(namespace, b"k") == b"v"
        assert not _in_transaction(backend)
        backend.delete(namespace, b"k")
        assert not _in_transaction(backend)
    finally:
        backend.delete(namespace, b"k")


def _kill_session(backend: SqlBackend) -> None:
    """End the kept connection's session from another connection, as a restart or an
    administrator would: the driver only finds out on its next statement."""
    dbapi = backend._local.dbapi
    with backend.engine.connect() as admin:
        if backend.options.family == "postgresql":
            admin.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                          {"pid": dbapi.info.backend_pid})
        else:
            admin.exec_driver_sql(f"KILL {int(dbapi.thread_id())}")


@pytest.mark.parametrize("call", ["get", "set", "delete"])
def test_a_killed_kept_connection_is_replaced_and_the_call_retried(
        server_backend: tuple[SqlBackend, str], call: str) -> None:
    backend, namespace = server_backend
    killed = backend._local.conn
    _kill_session(backend)
    if call == "get":
        assert backend.get(namespace, b"k") == b"v"
    elif call == "set":
        backend.set(namespace, b"k", b"w", None)
        assert backend.get(namespace, b"k") == b"w"
    else:
        backend.delete(namespace, b"k")
        assert backend.get(namespace, b"k") is None
    assert backend._local.conn is not killed


def test_a_bad_request_propagates_as_sqlalchemys_error(
        server_backend: tuple[SqlBackend, str]) -> None:
    """A namespace longer than the column is the database refusing the request, not an
    outage: SQLAlchemy's DBAPIError, not BackendUnavailable; the next call works."""
    backend, namespace = server_backend
    with pytest.raises(sa.exc.DBAPIError) as raised:
        backend.set("n" * 65, b"k", b"v", None)
    assert not isinstance(raised.value, BackendUnavailable)
    assert not raised.value.connection_invalidated
    assert backend.get(namespace, b"k") == b"v"
