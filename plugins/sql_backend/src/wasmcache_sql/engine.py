"""Creating the SQLAlchemy engine: pools, timeouts and SQLite's WAL mode, per dialect."""

from __future__ import annotations

import math
import warnings
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SAWarning
from wasmcache import WasmcacheError

from .options import SqlOptions

EXTRAS = {"postgresql": "postgresql", "mysql": "mysql"}


def make_engine(url: URL, options: SqlOptions) -> Engine:
    """An autocommit engine whose pool reuses connections; nothing connects until first use.

    SQLite gets a pooled connection per thread with WAL and a busy timeout, so several
    processes share one file. PostgreSQL and MySQL get a QueuePool with ``pool_pre_ping`` so
    a connection a restarted server dropped is noticed and replaced at checkout.
    """
    connect_args: dict[str, Any] = {}
    # Every call is one statement, so autocommit is atomic enough and saves the BEGIN/COMMIT
    # round trips; with no transaction left open there is nothing to roll back on return.
    # hide_parameters: an error's message never carries the bound values (a guest's data).
    kwargs: dict[str, Any] = {"pool_size": options.pool_size, "isolation_level": "AUTOCOMMIT",
                              "pool_reset_on_return": None, "hide_parameters": True}
    if options.family == "postgresql":
        # libpq takes whole seconds (and treats 1 as 2)
        connect_args["connect_timeout"] = max(2, math.ceil(options.connect_timeout))
        kwargs.update(pool_pre_ping=True, pool_timeout=options.connect_timeout)
    elif options.family == "mysql":
        connect_args.update(connect_timeout=options.connect_timeout,
                            read_timeout=options.io_timeout, write_timeout=options.io_timeout)
        kwargs.update(pool_pre_ping=True, pool_timeout=options.connect_timeout)
    else:
        connect_args["timeout"] = options.busy_timeout
        # Our own connections never cross threads unguarded: the pool hands each one out once.
        connect_args["check_same_thread"] = False
    try:
        with warnings.catch_warnings():
            # e.g. "Query string argument(s) ... are not accepted by the pysqlite driver and
            # are being ignored": an option the user meant is not ignored silently here
            warnings.simplefilter("error", SAWarning)
            engine = create_engine(url, connect_args=connect_args, **kwargs)
    except SAWarning as warning:
        said = " ".join(str(warning).split(" (Background on")[0].split())
        raise WasmcacheError(f"SQL backend URL: {said}") from None
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get(options.family)
        hint = f": install it with `pip install 'wasmcache-sql[{extra}]'`" if extra else ""
        raise WasmcacheError(f"the driver for {url.drivername}:// is missing ({exc.name}){hint}")\
            from None
    if options.family == "sqlite":
        _sqlite_pragmas(engine, options.busy_timeout)
    return engine


def _sqlite_pragmas(engine: Engine, busy_timeout: float) -> None:
    busy_ms = int(busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")  # an int we computed, not input
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")  # WAL's recommended durability
        finally:
            cursor.close()
