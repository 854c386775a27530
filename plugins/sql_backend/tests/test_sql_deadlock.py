"""A statement the database rolls back as a deadlock's victim is run again, not failed.

InnoDB picks a victim when concurrent upserts and the expiry sweep lock rows in opposite
orders (seen once in 1,810 sets of the 8-process contract hammer on MariaDB). The error used
here is a real one: two sessions lock two rows in opposite order on each server.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from wasmcache import open_backend
from wasmcache.testing.contract import unique_namespace
from wasmcache_sql import SqlBackend
from wasmcache_sql.backend import DEADLOCK_RETRIES
from wasmcache_sql.errors import is_deadlock_victim

from .conftest import MYSQL_BASE, PG_BASE


def real_deadlock(base_url: str) -> sa.exc.DBAPIError:
    """The error a database raises for a deadlock's victim, made to happen for real."""
    engine = sa.create_engine(base_url)
    table = f"deadlock_{uuid.uuid4().hex[:8]}"
    caught: list[sa.exc.DBAPIError] = []
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TABLE {table} (k INT PRIMARY KEY, v INT)")
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 0), (2, 0)")
        first, second = engine.connect(), engine.connect()
        try:
            first.begin()
            second.begin()
            first.exec_driver_sql(f"UPDATE {table} SET v = 1 WHERE k = 1")
            second.exec_driver_sql(f"UPDATE {table} SET v = 1 WHERE k = 2")

            def cross(conn: sa.Connection, key: int) -> None:
                try:
                    conn.exec_driver_sql(f"UPDATE {table} SET v = 2 WHERE k = {key}")
                except sa.exc.DBAPIError as exc:
                    caught.append(exc)
                    conn.rollback()

            waiter = threading.Thread(target=cross, args=(first, 2))
            waiter.start()
            cross(second, 1)
            waiter.join(timeout=60)
            for conn in (first, second):
                if conn.in_transaction():
                    conn.rollback()
        finally:
            first.close()
            second.close()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE {table}")
    finally:
        engine.dispose()
    assert len(caught) == 1, caught
    return caught[0]


@pytest.fixture(scope="module", params=[PG_BASE, MYSQL_BASE], ids=["postgresql", "mysql"])
def deadlock(request: pytest.FixtureRequest) -> tuple[str, sa.exc.DBAPIError]:
    return request.param, real_deadlock(request.param)


def test_a_real_deadlock_is_recognised_and_other_errors_are_not(
        deadlock: tuple[str, sa.exc.DBAPIError]) -> None:
    base_url, error = deadlock
    assert is_deadlock_victim(error)
    engine = sa.create_engine(base_url)
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as other:
            conn.exec_driver_sql("SELECT * FROM wasmcache_no_such_table")
    finally:
        engine.dispose()
    assert not is_deadlock_victim(other.value)
    assert not is_deadlock_victim(ValueError("not a database error"))


@pytest.fixture
def server_backend(deadlock: tuple[str, sa.exc.DBAPIError], sql_table: str
                   ) -> Iterator[SqlBackend]:
    opened = open_backend(f"{deadlock[0]}?table={sql_table}&purge_batch=0")
    assert isinstance(opened, SqlBackend)
    try:
        yield opened
    finally:
        opened.close()


def _victim_for(backend: SqlBackend, error: sa.exc.DBAPIError, times: int) -> list[str]:
    """Make the backend's next `times` hot-path statements fail with `error`; the calls."""
    calls: list[str] = []
    real = backend._run_on

    def run_on(conn: sa.Connection, name: str, params: dict) -> object:
        calls.append(name)
        if len(calls) <= times:
            raise error
        return real(conn, name, params)

    backend._run_on = run_on  # type: ignore[method-assign]
    return calls


def test_a_deadlock_victim_is_run_again(deadlock: tuple[str, sa.exc.DBAPIError],
                                        server_backend: SqlBackend) -> None:
    assert DEADLOCK_RETRIES >= 1
    namespace = unique_namespace()
    calls = _victim_for(server_backend, deadlock[1], DEADLOCK_RETRIES)
    try:
        server_backend.set(namespace, b"k", b"stored after the retries", None)
        assert calls == ["upsert"] * (DEADLOCK_RETRIES + 1)
        assert server_backend.get(namespace, b"k") == b"stored after the retries"
    finally:
        server_backend.delete(namespace, b"k")


def test_a_deadlock_that_keeps_happening_reaches_the_caller(
        deadlock: tuple[str, sa.exc.DBAPIError], server_backend: SqlBackend) -> None:
    calls = _victim_for(server_backend, deadlock[1], DEADLOCK_RETRIES + 1)
    with pytest.raises(sa.exc.DBAPIError):
        server_backend.delete(unique_namespace(), b"k")
    assert calls == ["delete"] * (DEADLOCK_RETRIES + 1)
