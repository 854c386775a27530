"""The hot path's statements run on the DBAPI cursor, compiled once by SQLAlchemy.

`Connection.execute` costs several times the statement itself on SQLite (a keyed SELECT: about
15 µs through Core, under 4 µs on the sqlite3 cursor). So get, set and delete are compiled once
per engine by SQLAlchemy (``statement.compile(dialect=...)``), and each call only binds the
parameters (in the order and style the dialect's compiled form names them, through the same
type bind processors SQLAlchemy applies) and runs the compiled string on the kept connection's
DBAPI cursor. No SQL is written here: the statements are still the Core constructs of
`statements`, and any statement whose compiled form needs more than plain binds (expanding or
literal parameters, defaults, escaped names) is left to `Connection.execute`.

Errors are wrapped with SQLAlchemy's own machinery (`DBAPIError.instance`, the dialect's
``is_disconnect``, `Connection.invalidate`), as `Connection.execute` would, so the backend's
error translation and reconnect-and-retry see the same exceptions as before.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Dialect, Executable
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """One Core statement as SQLAlchemy compiled it for one dialect, ready for the cursor."""

    sql: str
    #: (bind name, bind processor or None), in the order a positional paramstyle takes them
    binds: tuple[tuple[str, Processor | None], ...]
    positional: bool

    def parameters(self, params: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """The driver's parameters: processed like SQLAlchemy's, as a list or a dict."""
        if self.positional:
            return [params[name] if proc is None else proc(params[name])
                    for name, proc in self.binds]
        return {name: params[name] if proc is None else proc(params[name])
                for name, proc in self.binds}

    def first_row(self, conn: Connection, dbapi_conn: Any,
                  params: Mapping[str, Any]) -> Sequence[Any] | None:
        """Run on `dbapi_conn` (`conn`'s own DBAPI connection); the first row, or None.

        The cursor is closed before returning, which on SQLite ends the read at once (no
        snapshot is held until the next call); with the engine's autocommit connections each
        statement is committed by the driver as it completes, as under `Connection.execute`.
        """
        cursor = None
        driver_params: Any = None
        try:
            cursor = dbapi_conn.cursor()
            driver_params = self.parameters(params)
            cursor.execute(self.sql, driver_params)
            row = cursor.fetchone() if cursor.description is not None else None
            cursor.close()
            return row
        except Exception as exc:
            raise _as_sqlalchemy_error(exc, conn, dbapi_conn, cursor, self.sql,
                                       driver_params) from exc
        except BaseException:  # KeyboardInterrupt mid-statement: the protocol state is unknown
            _invalidate_quietly(conn, None)
            raise


def compile_statement(statement: Executable, dialect: Dialect) -> DriverStatement | None:
    """`statement` compiled by SQLAlchemy for `dialect`, or None if it needs Core's execution.

    Call it after the engine's first connection: a dialect adapts its SQL to the server it
    met (MariaDB or MySQL, and which version).
    """
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler) or not _only_plain_binds(compiled):
        return None
    names = compiled.positiontup if dialect.positional else list(compiled.binds)
    if names is None or sorted(names) != sorted(compiled.binds):
        return None
    binds = tuple((name, _bind_processor(compiled, name, dialect)) for name in names)
    return DriverStatement(sql=compiled.string, binds=binds, positional=dialect.positional)


def _only_plain_binds(compiled: SQLCompiler) -> bool:
    """True if every parameter is a caller-supplied bind SQLAlchemy passes through unchanged
    apart from its type's bind processor: the only case `DriverStatement` reproduces."""
    if compiled.post_compile_params or compiled.literal_execute_params:
        return False
    if compiled.escaped_bind_names or getattr(compiled, "effective_returning", None):
        return False
    return all(bind.value is None and bind.callable is None and not bind.expanding
               for bind in compiled.binds.values())


def _bind_processor(compiled: SQLCompiler, name: str, dialect: Dialect) -> Processor | None:
    """The processor SQLAlchemy applies to this bind's values (e.g. ``memoryview`` for a
    LargeBinary on sqlite3, psycopg's ``Binary``), from the type's public API."""
    bind_type = compiled.binds[name].type
    return bind_type.dialect_impl(dialect).bind_processor(dialect)


def _as_sqlalchemy_error(exc: Exception, conn: Connection, dbapi_conn: Any, cursor: Any,
                         sql: str, params: Any) -> Exception:
    """`exc` as `Connection.execute` would have raised it, and the connection invalidated if
    the dialect says the error means it is gone. A non-DBAPI error is returned unchanged."""
    dialect = conn.dialect
    if not isinstance(exc, dialect.loaded_dbapi.Error):
        _close_quietly(cursor)
        return exc
    disconnect = not conn.closed and dialect.is_disconnect(exc, dbapi_conn, cursor)
    wrapped = DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error,
                                  hide_parameters=conn.engine.hide_parameters,
                                  connection_invalidated=disconnect, dialect=dialect,
                                  ismulti=False)
    if disconnect:
        _invalidate_quietly(conn, exc)
    else:
        _close_quietly(cursor)
    return wrapped


def _invalidate_quietly(conn: Connection, exc: BaseException | None) -> None:
    """Discard `conn`'s DBAPI connection for good; failing to must not hide the real error."""
    try:
        conn.invalidate(exc)
    except Exception:  # noqa: BLE001, S110 - the caller is already raising the real error
        pass


def _close_quietly(cursor: Any) -> None:
    """Close a cursor after an error; a second error from close must not hide the first."""
    if cursor is None:
        return
    try:
        cursor.close()
    except Exception:  # noqa: BLE001, S110 - the caller is already raising the real error
        pass
