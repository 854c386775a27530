"""Fixtures for the SQL backend's tests: one table per test session on each real server.

The shared servers (scripts/ensure-services starts them) must be up: a test that needs one
fails with a message saying so rather than skipping, so CI cannot pass without them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MYSQL_BASE = "mysql+pymysql://root@127.0.0.1:3306/test"
SERVERS = {"postgresql": PG_BASE, "mysql": MYSQL_BASE}


def drop_tables(base_url: str, table: str) -> None:
    """Drop one test table and its schema table (and nothing else)."""
    engine = sa.create_engine(base_url)
    try:
        with engine.begin() as conn:
            for name in (table, f"{table}_schema"):
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {name}"))
    finally:
        engine.dispose()


def _require(base_url: str) -> None:
    engine = sa.create_engine(base_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"the test server {base_url} is not reachable ({exc.orig}); start it with "
                    "scripts/ensure-services", pytrace=False)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def sql_table() -> str:
    """This session's table name, used on every server."""
    return f"wasmcache_test_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def pg_url(sql_table: str) -> Iterator[str]:
    """The shared PostgreSQL with this session's table; the table is dropped at the end."""
    _require(PG_BASE)
    try:
        yield f"{PG_BASE}?table={sql_table}"
    finally:
        drop_tables(PG_BASE, sql_table)


@pytest.fixture(scope="session")
def mysql_url(sql_table: str) -> Iterator[str]:
    """The shared MariaDB with this session's table; the table is dropped at the end."""
    _require(MYSQL_BASE)
    try:
        yield f"{MYSQL_BASE}?table={sql_table}"
    finally:
        drop_tables(MYSQL_BASE, sql_table)


@pytest.fixture
def sqlite_url(tmp_path: Path, sql_table: str) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'cache.db'}?table={sql_table}"


URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "pg_url", "mysql": "mysql_url"}


@pytest.fixture(params=list(URL_FIXTURES))
def any_url(request: pytest.FixtureRequest) -> str:
    """Each of the three dialects in turn."""
    return request.getfixturevalue(URL_FIXTURES[request.param])
