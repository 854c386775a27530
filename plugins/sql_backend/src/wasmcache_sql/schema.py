"""The tables, the schema version they record, and creating (or later migrating) them.

Per entries table ``T`` there is a one-row table ``T_schema`` holding the schema version, so
several caches (tables) in one database are versioned independently. On first use a backend
creates both if missing, then compares versions:

* no version row: the tables were just created; record `SCHEMA_VERSION`;
* the same version: nothing to do;
* an older version: run the steps in `MIGRATIONS` one version at a time, each in its own
  transaction that first locks the version row, bumping it as it goes (a later release adds
  ``MIGRATIONS[1]`` to go from 1 to 2, and so on; MySQL commits DDL at once, so a migration
  there must be written to be re-runnable);
* a newer version: refuse with a one-line error (this release would misread the rows).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.exc import DBAPIError, IntegrityError
from wasmcache import WasmcacheError

from .errors import is_deadlock_victim

SCHEMA_VERSION = 1

#: MIGRATIONS[n] upgrades a database at version n to n + 1 (none yet: version 1 is the first).
MIGRATIONS: dict[int, Callable[[Connection, Table], None]] = {}

_MYSQL = ("mysql", "mariadb")

#: The namespace compares byte for byte everywhere: on MySQL a binary collation, because the
#: default collations are case-insensitive and would make namespaces "a" and "A" one.
NAMESPACE_TYPE = String(64).with_variant(
    mysql.VARCHAR(64, charset="ascii", collation="ascii_bin"), *_MYSQL)
#: BYTEA / BLOB, and VARBINARY(250) on MySQL, where a BLOB cannot be part of a primary key.
KEY_TYPE = LargeBinary().with_variant(mysql.VARBINARY(250), *_MYSQL)
#: BYTEA / BLOB hold 1 MiB; MySQL's BLOB stops at 64 KiB, LONGBLOB does not.
VALUE_TYPE = LargeBinary().with_variant(mysql.LONGBLOB(), *_MYSQL)


def entries_table(name: str, metadata: MetaData) -> Table:
    """(namespace, key) -> value, with the expiry in epoch milliseconds (NULL = never)."""
    return Table(
        name, metadata,
        Column("namespace", NAMESPACE_TYPE, primary_key=True),
        Column("key", KEY_TYPE, primary_key=True),
        Column("value", VALUE_TYPE, nullable=False),
        Column("expires_at", BigInteger, nullable=True),
        Index(f"{name}_expires_at", "expires_at"),
        mysql_engine="InnoDB",
    )


def schema_table(name: str, metadata: MetaData) -> Table:
    """One row (id = 1) with the schema version of the entries table `name`."""
    return Table(
        f"{name}_schema", metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("version", Integer, nullable=False),
        mysql_engine="InnoDB",
    )


def ensure_schema(engine: Engine, entries: Table, version_table: Table) -> None:
    """Create the tables if missing and bring them to `SCHEMA_VERSION`.

    Safe when several processes start at once: a CREATE or INSERT that loses the race fails,
    and a later attempt finds what the winner made. The race has several steps (version table,
    entries table, version row), so a loser may lose more than once: a few short retries, of
    a lost race only (a refused login is not retried: servers count failed logins, and MariaDB
    blocks a host after max_connect_errors of them).
    """
    attempts = 5
    for attempt in range(1, attempts + 1):
        try:
            _ensure_once(engine, entries, version_table)
            return
        except DBAPIError as exc:
            if attempt == attempts or not _lost_race(exc):
                raise
            time.sleep(0.05 * attempt)


def _lost_race(exc: DBAPIError) -> bool:
    """True when another host created the same table or row first (or InnoDB chose this
    statement as a deadlock's victim): a later attempt finds what the winner made."""
    if exc.connection_invalidated:
        return False
    return (isinstance(exc, IntegrityError) or "already exists" in str(exc.orig).lower()
            or is_deadlock_victim(exc))


def _ensure_once(engine: Engine, entries: Table, version_table: Table) -> None:
    # Statement by statement (the engine autocommits): every step is safe to repeat.
    with engine.connect() as conn:
        version_table.create(conn, checkfirst=True)
        version = conn.execute(
            select(version_table.c.version).where(version_table.c.id == 1)).scalar()
        if version is None:
            entries.create(conn, checkfirst=True)
            for index in entries.indexes:  # skipped above if a racing host made the table
                index.create(conn, checkfirst=True)
            conn.execute(insert(version_table).values(id=1, version=SCHEMA_VERSION))
            return
    if version > SCHEMA_VERSION:
        raise WasmcacheError(
            f"table {entries.name!r} has schema version {version}, newer than this "
            f"wasmcache-sql understands ({SCHEMA_VERSION}): upgrade wasmcache-sql"
        )
    while version < SCHEMA_VERSION:
        # The engine autocommits; a migration step needs a real transaction.
        with engine.connect() as plain, \
                plain.execution_options(isolation_level="SERIALIZABLE").begin() as conn:
            # The row lock makes concurrent hosts migrate one at a time (SQLite locks the file).
            current = conn.execute(select(version_table.c.version)
                                   .where(version_table.c.id == 1).with_for_update()).scalar_one()
            if current == version:
                MIGRATIONS[version](conn, entries)
                conn.execute(update(version_table).where(version_table.c.id == 1)
                             .values(version=version + 1))
                current = version + 1
        version = current
