"""The statements a backend runs, built once per table and dialect (SQLAlchemy caches them).

Time comes from the database server (`now_ms`), so every host sharing one database agrees on
what has expired, whatever its own clock says. Every value and key is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Delete,
    Insert,
    Select,
    Table,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite

#: Epoch milliseconds, read from the server's clock once per statement. PostgreSQL's
#: statement_timestamp() and MySQL's UTC_TIMESTAMP() are fixed for the statement (so an index
#: can use them); MySQL's is UTC whatever the session time zone, so DST cannot shift it.
NOW_MS_SQL = {
    "sqlite": "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
    "postgresql": "CAST(EXTRACT(EPOCH FROM statement_timestamp()) * 1000 AS BIGINT)",
    "mysql": "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) DIV 1000)",
}


def now_ms(family: str) -> ColumnElement[int]:
    """The server's current time in epoch milliseconds, as a SQL expression."""
    return literal_column(NOW_MS_SQL[family], BigInteger)


@dataclass(frozen=True)
class Statements:
    """Parameters: ``p_ns`` (str), ``p_key`` (bytes), ``p_value`` (bytes), ``p_ttl_ms``
    (int milliseconds, or None for no expiry)."""

    get: Select[tuple[bytes]]
    usage: Select[tuple[int, int]]
    upsert: Insert
    delete: Delete
    purge: Delete


def build(table: Table, family: str, purge_batch: int) -> Statements:
    """The statements for `table` on the dialect `family` ("sqlite", "postgresql", "mysql")."""
    c = table.c
    now = now_ms(family)
    where_key = (c.namespace == bindparam("p_ns"), c.key == bindparam("p_key"))
    live = or_(c.expires_at.is_(None), c.expires_at > now)
    get = select(c.value).where(*where_key, live)
    usage = select(func.count(), func.coalesce(func.sum(func.length(c.value)), 0)).where(
        c.namespace == bindparam("p_ns"), live)
    return Statements(
        get=get,
        usage=usage,
        upsert=_upsert(table, family, now),
        delete=delete(table).where(*where_key),
        purge=_purge(table, family, now, purge_batch),
    )


def _upsert(table: Table, family: str, now: ColumnElement[int]) -> Insert:
    """One INSERT that overwrites on a duplicate key: no read-then-write race.

    ``now + NULL`` is NULL in SQL, so a ttl of None stores "never expires" and clears an older
    expiry in the same statement.
    """
    values = {
        "namespace": bindparam("p_ns"),
        "key": bindparam("p_key"),
        "value": bindparam("p_value"),
        "expires_at": now + bindparam("p_ttl_ms", type_=BigInteger),
    }
    if family == "mysql":
        stmt = mysql.insert(table).values(values)
        return stmt.on_duplicate_key_update(value=stmt.inserted.value,
                                            expires_at=stmt.inserted.expires_at)
    dialect_insert = postgresql.insert if family == "postgresql" else sqlite.insert
    stmt = dialect_insert(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.namespace, table.c.key],
        set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at},
    )


def _purge(table: Table, family: str, now: ColumnElement[int], batch: int) -> Delete:
    """Delete at most `batch` expired rows, found through the index on expires_at."""
    c = table.c
    expired = c.expires_at <= now
    if family == "mysql":  # MySQL cannot LIMIT a subquery of the table it deletes from
        return delete(table).where(expired).with_dialect_options(mysql_limit=batch)
    victims = select(c.namespace, c.key).where(expired).limit(batch)
    return delete(table).where(tuple_(c.namespace, c.key).in_(victims))
