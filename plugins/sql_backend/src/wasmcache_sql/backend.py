"""`SqlBackend`: the cache in one SQL table, on any engine SQLAlchemy 2 Core drives.

The hot path (get, set, delete) runs on a connection each thread keeps (`_with_connection`),
and executes its statements, compiled once by SQLAlchemy, straight on that connection's DBAPI
cursor (`driver.DriverStatement`): SQLAlchemy's per-call execution layer costs more than the
statement itself on SQLite. Everything else (the sweep, usage, the wasi:keyvalue capabilities)
runs through `Connection.execute`, and so does the hot path while anyone listens to the
engine's events or echoes its SQL, so listeners keep seeing every statement.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Connection, CursorResult, Engine, Executable, MetaData, text
from sqlalchemy.exc import DBAPIError
from wasmcache import MAX_VALUE_BYTES, BackendUnavailable, StoreDescription

from . import schema, statements
from .capabilities import SqlCapabilities
from .check import check
from .driver import DriverStatement, compile_statement
from .errors import is_deadlock_victim, raise_if_unavailable, translated
from .options import SqlOptions

log = logging.getLogger("wasmcache_sql")

#: PyMySQL sends a value as an escaped literal: up to twice its size, plus the statement.
MYSQL_PACKET_NEEDED = 2 * MAX_VALUE_BYTES + 64 * 1024
_getpid = os.getpid
#: How many times a statement rolled back as a deadlock's victim is run again before the
#: error reaches the guest (as `internal`).
DEADLOCK_RETRIES = 3
#: The statements the hot path runs on the DBAPI cursor (attributes of `statements.Statements`).
HOT_STATEMENTS = ("get", "upsert", "delete")
#: ``server.port`` when the URL names none: the server's default.
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
T = TypeVar("T")


def _quietly_close(conn: Connection) -> None:
    """Return a connection to the pool; one that is already broken is simply discarded."""
    try:
        conn.close()
    except Exception as exc:  # noqa: BLE001 - closing must never turn into the call's error
        log.debug("closing a dropped connection failed: %s", exc)


def _core_execute(conn: Connection, statement: Executable,
                  params: dict[str, Any]) -> CursorResult[Any]:
    """`Connection.execute`, in the shape `SqlBackend._with_connection` runs."""
    return conn.execute(statement, params)


def describe_engine(engine: Engine, family: str) -> StoreDescription:
    """`SqlBackend.describe` for `engine` of dialect `family`, as far as its dialect knows."""
    if family == "sqlite":
        return StoreDescription(system="sqlite")  # a local file: no server
    system = "mariadb" if getattr(engine.dialect, "is_mariadb", False) else family
    host = engine.url.host
    if not host:  # a unix socket the driver finds by itself
        return StoreDescription(system=system)
    return StoreDescription(system=system, address=host,
                            port=engine.url.port or DEFAULT_PORTS.get(family))


def _observed(conn: Connection) -> bool:
    """True while something watches `conn`'s statements (event listeners on the connection,
    its engine or dialect, or echo): the DBAPI cursor would bypass them, Core does not.

    These are the flags `Connection.execute` itself checks; they are private, so a SQLAlchemy
    release without one counts as observed (Core execution, correct, only slower), and
    test_sql_driver fails so that it is noticed."""
    return bool(getattr(conn, "_has_events", True) or getattr(conn.engine, "_has_events", True)
                or getattr(conn.dialect, "_has_events", True) or getattr(conn, "_echo", True))


class SqlBackend(SqlCapabilities):
    """(namespace, key) -> value rows in one table; one statement per call, autocommitted.

    The wasi:keyvalue capabilities (batches, CAS, key listing) come from `SqlCapabilities`.

    The tables are created on first use (retried on each call while the server is down), so a
    host can start before its database does.
    """

    def __init__(self, engine: Engine, options: SqlOptions) -> None:
        self.engine = engine
        self.options = options
        metadata = MetaData()
        self.table = schema.entries_table(options.table, metadata)
        self.schema_table = schema.schema_table(options.table, metadata)
        self._sql = statements.build(self.table, options.family, max(options.purge_batch, 1))
        self._ready = False
        self._ready_lock = threading.Lock()
        self._sweep_lock = threading.Lock()
        self._next_sweep = 0.0  # monotonic; the first set of a process sweeps once
        self._local = threading.local()  # .conn / .dbapi: this thread's kept Connection
        self._driver: dict[str, DriverStatement | None] | None = None  # after the 1st connect
        self._kept: set[Connection] = set()  # every thread's, for close()
        self._kept_lock = threading.Lock()
        self._pid = _getpid()
        self._description: StoreDescription | None = None  # once the dialect met the server
        #: the outage the opener's contact met, handed to the first `check` (which would
        #: otherwise wait for the same timeout again right after it)
        self.outage_at_open: BackendUnavailable | None = None

    # --- the Backend protocol -------------------------------------------------------------
    def get(self, namespace: str, key: bytes) -> bytes | None:
        if not self._ready:
            self.ensure_ready()
        row = self._run("get", {"p_ns": namespace, "p_key": key})
        return None if row is None or row[0] is None else bytes(row[0])

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        if not self._ready:
            self.ensure_ready()
        self._run("upsert", {"p_ns": namespace, "p_key": key, "p_value": value,
                           "p_ttl_ms": None if ttl is None else ttl * 1000})
        if self._sweep_due():
            self._sweep()

    def delete(self, namespace: str, key: bytes) -> None:
        if not self._ready:
            self.ensure_ready()
        self._run("delete", {"p_ns": namespace, "p_key": key})

    def describe(self) -> StoreDescription:
        """The database for telemetry: its system and the URL's host and port (never the user
        or password). MariaDB or MySQL is known once a connection met the server (the dialect
        reads its version), which `ensure_ready` does at open when the server is up; until
        then a mysql:// URL says "mysql"."""
        found = self._description
        if found is None:
            found = describe_engine(self.engine, self.options.family)
            if self._ready:
                self._description = found
        return found

    def close(self) -> None:
        with self._kept_lock:
            kept, self._kept = self._kept, set()
            self._local = threading.local()
        for conn in kept:
            _quietly_close(conn)
        self.engine.dispose()

    # --- the hot path's connection ----------------------------------------------------------
    def _run(self, name: str, params: dict[str, Any]) -> Sequence[Any] | None:
        """Run hot-path statement `name` ("get", "upsert", "delete"); its first row, or None."""
        return self._with_connection(self._run_on, name, params)

    def _execute(self, statement: Executable, params: dict[str, Any]) -> CursorResult[Any]:
        """Run one autocommitted Core statement on this thread's kept connection."""
        return self._with_connection(_core_execute, statement, params)

    def _with_connection(self, run: Callable[[Connection, Any, dict[str, Any]], T],
                         statement: Any, params: dict[str, Any]) -> T:
        """`_on_kept_connection`, run again (up to `DEADLOCK_RETRIES` times) when the database
        rolled the statement back as a deadlock's victim: every statement here runs alone in
        autocommit, so nothing of the failed attempt was kept."""
        for _ in range(DEADLOCK_RETRIES):
            try:
                return self._on_kept_connection(run, statement, params)
            except DBAPIError as exc:
                if not is_deadlock_victim(exc):
                    raise
                log.info("statement on %s was a deadlock victim; running it again",
                         self.table.name)
        return self._on_kept_connection(run, statement, params)

    def _on_kept_connection(self, run: Callable[[Connection, Any, dict[str, Any]], T],
                            statement: Any, params: dict[str, Any]) -> T:
        """``run(conn, statement, params)`` on this thread's kept connection, autocommitted.

        A pool checkout and return per call cost more than the statement itself on SQLite, so
        each thread keeps the connection it checked out. Any error drops it (the next call
        checks out a fresh one); a kept connection that the server dropped since its last use
        is replaced and the statement run once more, as the pool's pre-ping would have done at
        checkout (every statement here is idempotent: a read, an upsert or a delete).
        """
        conn = self._local.__dict__.get("conn")
        if conn is not None and self._pid == _getpid():
            try:
                return run(conn, statement, params)
            except Exception as exc:
                self._drop(conn)
                if not (isinstance(exc, DBAPIError) and exc.connection_invalidated):
                    raise_if_unavailable(exc)
                    raise
        conn = None
        try:
            conn = self._checkout()
            return run(conn, statement, params)
        except Exception as exc:
            if conn is not None:
                self._drop(conn)
            raise_if_unavailable(exc)
            raise

    def _run_on(self, conn: Connection, name: str,
                params: dict[str, Any]) -> Sequence[Any] | None:
        """`name` on `conn`'s DBAPI cursor, or through Core while the engine is observed (event
        listeners, echo) or if SQLAlchemy's compiled form is not one the cursor can take."""
        driver = self._driver if self._driver is not None else self._compile_driver()
        compiled = driver[name]
        if compiled is None or _observed(conn):
            result = conn.execute(getattr(self._sql, name), params)
            return result.first() if result.returns_rows else None
        return compiled.first_row(conn, self._local.dbapi, params)

    def _compile_driver(self) -> dict[str, DriverStatement | None]:
        """Compile the hot path's statements once, after the engine's first connection told
        the dialect which server it talks to (two threads may both do it: same result)."""
        dialect = self.engine.dialect
        driver = {name: compile_statement(getattr(self._sql, name), dialect)
                  for name in HOT_STATEMENTS}
        for name, compiled in driver.items():
            if compiled is None:
                log.info("%s runs through Connection.execute on %s", name, dialect.name)
        self._driver = driver
        return driver

    def _checkout(self) -> Connection:
        if self._pid != _getpid():  # a forked child: the parent's connections are not ours
            self.engine.dispose(close=False)
            with self._kept_lock:
                self._kept, self._local, self._pid = set(), threading.local(), _getpid()
        self._local.conn = None
        conn = self.engine.connect()
        self._local.dbapi = conn.connection.dbapi_connection
        self._local.conn = conn
        with self._kept_lock:
            self._kept.add(conn)
        return conn

    def _drop(self, conn: Connection) -> None:
        self._local.conn = self._local.dbapi = None
        with self._kept_lock:
            self._kept.discard(conn)
        _quietly_close(conn)

    # --- optional capabilities ------------------------------------------------------------
    def usage(self, namespace: str) -> tuple[int, int]:
        """(live keys, bytes of values) in `namespace`, counted by the database itself, so
        quotas hold across runs and hosts; a range scan of the primary key's namespace prefix."""
        self.ensure_ready()
        with translated(), self.engine.connect() as conn:
            keys, size = conn.execute(self._sql.usage, {"p_ns": namespace}).one()
        return int(keys), int(size)

    # --- housekeeping -----------------------------------------------------------------------
    def check(self) -> None:
        """Contact the database once before a guest runs (`wasmcache_sql.check`): raises
        `BackendMisconfigured` for a refused login, an untrusted certificate, an unknown
        database or a missing permission, `BackendUnavailable` when it is unreachable."""
        check(self)

    def ensure_ready(self) -> None:
        """Create or migrate the tables once; raises `BackendUnavailable` while unreachable."""
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with translated():
                schema.ensure_schema(self.engine, self.table, self.schema_table)
                if self.options.family == "mysql":
                    self._check_packet_size()
            self._ready = True

    def purge(self) -> int:
        """Delete up to ``purge_batch`` expired rows now; returns how many went."""
        self.ensure_ready()
        return self._execute(self._sql.purge, {}).rowcount  # on the kept connection, too

    def _sweep_due(self) -> bool:
        return self.options.purge_batch > 0 and time.monotonic() >= self._next_sweep

    def _sweep(self) -> None:
        """A bounded purge after a set; a full batch means more are waiting, so the next set
        sweeps again. Failures are logged: the set itself already succeeded."""
        if not self._sweep_lock.acquire(blocking=False):
            return  # another thread is sweeping
        try:
            deleted = self.purge()
            full = deleted >= self.options.purge_batch
            self._next_sweep = time.monotonic() + (0 if full else self.options.purge_interval)
            log.debug("swept %d expired rows from %s", deleted, self.table.name)
        except BackendUnavailable as exc:
            log.info("sweep of %s skipped: %s", self.table.name, exc)
        except Exception as exc:  # noqa: BLE001 - e.g. a deadlock with another host's sweep
            self._next_sweep = time.monotonic() + self.options.purge_interval
            log.warning("sweep of %s failed: %s: %s", self.table.name, type(exc).__name__, exc)
        finally:
            self._sweep_lock.release()

    def _check_packet_size(self) -> None:
        with self.engine.connect() as conn:
            packet = int(conn.execute(text("SELECT @@max_allowed_packet")).scalar_one())
        if packet < MYSQL_PACKET_NEEDED:
            log.warning(
                "max_allowed_packet is %d bytes; values near 1 MiB need up to %d "
                "(SET GLOBAL max_allowed_packet=%d, or max_allowed_packet in my.cnf)",
                packet, MYSQL_PACKET_NEEDED, 16 * 1024 * 1024)
