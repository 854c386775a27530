"""wasi:keyvalue capabilities in SQL: one statement per batch, a conditional UPDATE for CAS.

`SqlCapabilities` is mixed into `SqlBackend` (it uses its ``engine``, ``table``, ``options``,
``_sql`` and ``ensure_ready``):

* ``get_many`` / ``delete_many``: one ``SELECT``/``DELETE ... WHERE key IN (...)``;
* ``set_many``: the backend's upsert executed once for all rows (executemany) in one
  transaction;
* ``compare_and_swap``: ``UPDATE ... SET value = :new WHERE ... AND value = :expected`` (the
  row count says whether it won); for "only if absent", a delete of an expired row then an
  insert that does nothing on a conflict (``ON CONFLICT DO NOTHING`` / ``INSERT IGNORE``);
  whether the row changed is read from ``RETURNING`` (PostgreSQL, SQLite) or the matched-row
  count (MySQL/MariaDB);
* ``list_keys``: keyset pagination on the primary key, ``key > :after ORDER BY key LIMIT n``;
  the cursor is the hex of the last key, so no page ever loads the namespace whole.
* ``increment`` on PostgreSQL and MariaDB: one upsert that adds in SQL and returns the new
  value (``ON CONFLICT DO UPDATE ... RETURNING`` / ``ON DUPLICATE KEY UPDATE ... RETURNING``);
  an old value that is not a decimal 64-bit integer, or a sum out of range, makes the new
  value NULL, which the NOT NULL column refuses (MariaDB needs its default strict mode), and
  the error is mapped by re-reading the value with the core's rules;
* ``increment`` on SQLite and MySQL (no regex or no RETURNING): a read-modify-write holding
  the lock (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on MySQL), parsed and
  added in Python with the core's ``parse_counter``/``add_counter``; a missing row is first
  inserted as "0" (insert-if-absent, outside the transaction, so two creators never
  deadlock). Either way: no retries, atomic across processes and hosts.

Expired rows count as absent everywhere, as in ``get``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Numeric,
    Table,
    Text,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from wasmcache.capabilities import INT64_MAX, INT64_MIN, add_counter, parse_counter

from .errors import translated
from .statements import now_ms

COUNTER_PATTERN = "^-?(0|[1-9][0-9]{0,18})$"


class SqlCapabilities:
    """The optional capabilities of the Backend protocol (wasmcache.capabilities)."""

    engine: Any
    table: Table
    options: Any
    _sql: Any
    _kv: dict[str, Any] | None = None

    def ensure_ready(self) -> None:  # provided by SqlBackend
        raise NotImplementedError

    def _kv_statements(self) -> dict[str, Any]:
        if self._kv is None:
            self._kv = _build(self.table, self.options.family)
        return self._kv

    def get_many(self, namespace: str, keys: list[bytes]) -> list[bytes | None]:
        self.ensure_ready()
        sql = self._kv_statements()
        with translated(), self.engine.connect() as conn:
            rows = conn.execute(sql["get_many"], {"p_ns": namespace, "p_keys": keys}).all()
        found = {bytes(key): bytes(value) for key, value in rows}
        return [found.get(key) for key in keys]

    def set_many(self, namespace: str, items: list[tuple[bytes, bytes]]) -> None:
        self.ensure_ready()
        params = [{"p_ns": namespace, "p_key": key, "p_value": value, "p_ttl_ms": None}
                  for key, value in items]
        with translated(), self.engine.begin() as conn:
            conn.execute(self._sql.upsert, params)

    def delete_many(self, namespace: str, keys: list[bytes]) -> None:
        self.ensure_ready()
        with translated(), self.engine.connect() as conn:
            conn.execute(self._kv_statements()["delete_many"], {"p_ns": namespace,
                                                                 "p_keys": keys})

    def compare_and_swap(self, namespace: str, key: bytes, expected: bytes | None,
                         new: bytes) -> bool:
        self.ensure_ready()
        sql = self._kv_statements()
        params = {"p_ns": namespace, "p_key": key, "p_value": new, "p_expected": expected}
        with translated(), self.engine.connect() as conn:
            if expected is None:
                conn.execute(sql["delete_expired"], params)
            result = conn.execute(sql["swap" if expected is not None else "insert_absent"],
                                  params)
            if self.options.family == "mysql":  # PyMySQL reports matched rows
                return result.rowcount == 1
            return result.first() is not None  # RETURNING: psycopg's rowcount is not reliable

    def increment(self, namespace: str, key: bytes, delta: int) -> int:
        self.ensure_ready()
        sql = self._kv_statements()
        params = {"p_ns": namespace, "p_key": key, "p_value": b"0", "p_expected": None}
        if self.options.family == "postgresql" or (self.options.family == "mysql"
                                                   and self.engine.dialect.is_mariadb):
            return self._upsert_increment(sql, namespace, key, delta)
        with translated():
            for _ in range(100):  # a delete between the two steps only sends us round again
                with self._locked() as conn:
                    row = conn.execute(sql["lock_row"], params).first()
                    if row is not None:
                        value, live = row
                        new = add_counter(parse_counter(bytes(value) if live else None), delta)
                        conn.execute(sql["write_counter"], {**params,
                                                            "p_value": str(new).encode()})
                        return new
                with self.engine.connect() as conn:  # a new counter: autocommitted, unlocked
                    conn.execute(sql["insert_absent"], params).close()
        raise RuntimeError("increment: the row kept disappearing under concurrent deletes")

    def _upsert_increment(self, sql: dict[str, Any], namespace: str, key: bytes,
                          delta: int) -> int:
        """One upsert that adds in SQL and returns the new value (PostgreSQL, MariaDB)."""
        params = {"p_ns": namespace, "p_key": key, "p_delta": delta,
                  "p_value": str(delta).encode()}
        try:
            with translated(), self.engine.connect() as conn:
                value = conn.execute(sql["upsert_increment"], params).scalar_one()
        except (IntegrityError, DataError, OperationalError) as exc:
            # the statement refuses (NULL into a NOT NULL column, or out of range) when the
            # value is no counter or the sum leaves 64 bits: say which, as every backend does
            if isinstance(exc, OperationalError) and "1048" not in str(exc.orig):
                raise
            with translated(), self.engine.connect() as conn:
                current = conn.execute(sql["get_many"], {"p_ns": namespace,
                                                         "p_keys": [key]}).first()
            add_counter(parse_counter(None if current is None else bytes(current[1])), delta)
            raise  # neither: a real fault
        return int(bytes(value))

    @contextmanager
    def _locked(self) -> Iterator[Any]:
        """A transaction whose first read locks: BEGIN IMMEDIATE on SQLite (the file's write
        lock), READ COMMITTED plus SELECT ... FOR UPDATE elsewhere (the row's lock)."""
        with self.engine.connect() as plain:
            if self.options.family != "sqlite":
                with plain.execution_options(isolation_level="READ COMMITTED").begin():
                    yield plain
                return
            plain.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield plain
            except BaseException:
                plain.exec_driver_sql("ROLLBACK")
                raise
            plain.exec_driver_sql("COMMIT")

    def list_keys(self, namespace: str, cursor: str | None,
                  limit: int) -> tuple[list[bytes], str | None]:
        after = bytes.fromhex(cursor) if cursor else b""  # ValueError: "invalid cursor"
        self.ensure_ready()
        sql = self._kv_statements()
        with translated(), self.engine.connect() as conn:
            rows = conn.execute(sql["list_keys"].limit(limit),
                                {"p_ns": namespace, "p_after": after}).scalars().all()
        keys = [bytes(key) for key in rows]
        return keys, (keys[-1].hex() if len(keys) == limit else None)


def _upsert_increment(table: Table, family: str, live: Any) -> Any:
    """INSERT delta, or on a conflict SET value = old + delta, RETURNING value. The old value
    must match the decimal pattern and the sum stay in 64 bits, else the new value is NULL,
    which the NOT NULL column refuses (an error, mapped by the caller). SQLite has no regex:
    it keeps the row-locked increment."""
    c = table.c
    numeric = Numeric(20, 0)
    delta = cast(bindparam("p_delta", type_=BigInteger), numeric)
    if family == "postgresql":
        text_value: Any = func.encode(c.value, "escape", type_=Text())
    else:
        text_value = type_coerce(c.value, Text())
    old = case((~live, 0), (text_value.regexp_match(COUNTER_PATTERN), cast(text_value, numeric)),
               else_=null())
    total = old + delta
    new_text = case((total.between(INT64_MIN, INT64_MAX), cast(total, Text())), else_=null())
    row = {"namespace": bindparam("p_ns"), "key": bindparam("p_key"),
           "value": bindparam("p_value"), "expires_at": null()}
    if family == "postgresql":
        stmt = postgresql.insert(table).values(row)
        return stmt.on_conflict_do_update(
            index_elements=[c.namespace, c.key],
            set_={"value": func.convert_to(new_text, "UTF8"), "expires_at": null()},
        ).returning(c.value)
    stmt = mysql.insert(table).values(row)
    # value before expires_at: MySQL assigns left to right, and `live` reads the old expiry
    return stmt.on_duplicate_key_update(value=new_text, expires_at=null()).returning(c.value)


def _build(table: Table, family: str) -> dict[str, Any]:
    c = table.c
    now = now_ms(family)
    live = or_(c.expires_at.is_(None), c.expires_at > now)
    in_keys = c.key.in_(bindparam("p_keys", expanding=True))
    this_key = (c.namespace == bindparam("p_ns"), c.key == bindparam("p_key"))
    row = {"namespace": bindparam("p_ns"), "key": bindparam("p_key"),
           "value": bindparam("p_value"), "expires_at": null()}
    if family == "mysql":
        insert_absent = insert(table).values(row).prefix_with("IGNORE")
    else:
        dialect_insert = postgresql.insert if family == "postgresql" else sqlite.insert
        insert_absent = dialect_insert(table).values(row).on_conflict_do_nothing().returning(
            c.key)
    swap = update(table).where(*this_key, c.value == bindparam("p_expected"), live).values(
        value=bindparam("p_value"), expires_at=literal_column("NULL", BigInteger))
    lock_row = select(c.value, live).where(*this_key)
    return {
        "upsert_increment": _upsert_increment(table, family, live),
        "lock_row": lock_row if family == "sqlite" else lock_row.with_for_update(),
        "write_counter": update(table).where(*this_key).values(
            value=bindparam("p_value"), expires_at=literal_column("NULL", BigInteger)),
        "get_many": select(c.key, c.value).where(c.namespace == bindparam("p_ns"), in_keys,
                                                 live),
        "delete_many": delete(table).where(c.namespace == bindparam("p_ns"), in_keys),
        "swap": swap if family == "mysql" else swap.returning(c.key),
        "delete_expired": delete(table).where(*this_key, c.expires_at <= now),
        "insert_absent": insert_absent,
        "list_keys": select(c.key).where(c.namespace == bindparam("p_ns"),
                                         c.key > bindparam("p_after"), live).order_by(c.key),
    }
