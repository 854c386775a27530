"""wasmcache-sql: the cache in a SQL table, on SQLAlchemy 2 Core (SQLite, PostgreSQL, MySQL).

URLs are SQLAlchemy's (``sqlite:///cache.db``, ``postgresql+psycopg://user@host/db``,
``mysql+pymysql://user@host/db``; bare ``postgresql://``/``mysql://``/``mariadb://`` use psycopg 3
and PyMySQL). The backend's own query options are described in `wasmcache_sql.options`: ``table``,
``connect_timeout``, ``io_timeout``, ``pool_size``, ``busy_timeout``, ``purge_interval``,
``purge_batch``. Every other query parameter is passed to the driver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wasmcache import BackendSpec, BackendUnavailable, hookimpl
from wasmcache.plugins import mask_url

from .options import SCHEMES

if TYPE_CHECKING:
    from .backend import SqlBackend
    from .schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "SqlBackend", "open_sql"]

log = logging.getLogger("wasmcache_sql")

# Registration must stay cheap (every `wasmcache` command loads every plugin): SQLAlchemy is
# imported by the opener, and the re-exports on first use (PEP 562).
_LAZY = {"SqlBackend": ".backend", "SCHEMA_VERSION": ".schema"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_sql(url: str) -> SqlBackend:
    """Open the backend for a SQL URL and create its tables if the server is reachable.

    A bad option or a missing driver is a one-line `WasmcacheError`, and so is a server that
    answers with a refusal (`SqlBackend.check`: wrong password, untrusted certificate, unknown
    database, no permission, a newer schema; `BackendMisconfigured`). A server that is down
    lets the backend open: ``wasmcache run`` says so once in its own check, and guests get
    ``unavailable`` until it is up.
    """
    from .backend import SqlBackend
    from .engine import make_engine
    from .options import parse_url

    sa_url, options = parse_url(url)
    backend = SqlBackend(make_engine(sa_url, options), options)
    try:
        backend.check()
    except BackendUnavailable as exc:
        log.debug("%s is unreachable for now (%s); will retry on each call", mask_url(url), exc)
        backend.outage_at_open = exc
    except BaseException:
        backend.close()
        raise
    return backend


#: What SqlBackend has (both specs open one): the contract suite checks it against the backend.
CAPABILITIES = ("check", "usage", "increment", "compare_and_swap", "get_many", "set_many",
                "delete_many", "list_keys", "describe")


@hookimpl
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Two specs: a SQLite file takes no password, the servers do (`accepts_password`)."""
    register(BackendSpec(
        schemes=SCHEMES["sqlite"],
        open=open_sql,
        description="SQL table in a SQLite file, via SQLAlchemy 2",
        example="sqlite:///wasmcache.db",
        capabilities=CAPABILITIES,
    ))
    register(BackendSpec(
        schemes=SCHEMES["postgresql"] + SCHEMES["mysql"],
        open=open_sql,
        description="SQL table on PostgreSQL or MySQL/MariaDB, via SQLAlchemy 2",
        example="postgresql+psycopg://user@127.0.0.1:5432/db",
        capabilities=CAPABILITIES,
        accepts_password=True,
    ))
