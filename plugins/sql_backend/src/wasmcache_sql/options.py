"""The backend's own URL options, read from the query string and removed before SQLAlchemy sees it.

Options (all optional; every other query parameter goes to SQLAlchemy / the driver unchanged,
e.g. ``sslmode=require`` for psycopg or ``charset=utf8mb4`` for PyMySQL):

``table``           entries table name, default ``wasmcache_entries``; ``[A-Za-z_][A-Za-z0-9_]*``,
                    at most 48 characters (the schema table and index names add a suffix).
``connect_timeout`` seconds to wait for a connection (default 5); PostgreSQL rounds up to whole
                    seconds (libpq's minimum is 2).
``io_timeout``      MySQL/MariaDB only: PyMySQL read/write timeout in seconds (default 30), so a
                    server that accepts but never answers is reported as unavailable.
``pool_size``       connections kept open per backend (default 5).
``busy_timeout``    SQLite only: seconds to wait for another process's write lock (default 5).
``purge_interval``  seconds between sweeps of expired rows, run by a set (default 60; 0 = at every
                    set).
``purge_batch``     most rows one sweep deletes (default 1000; 0 = never sweep here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wasmcache import WasmcacheError
from wasmcache.plugins import mask_url
from wasmcache.preflight import require_readable

if TYPE_CHECKING:  # SQLAlchemy is imported by parse_url: registering SCHEMES stays cheap
    from sqlalchemy.engine import URL

#: The dialect families this plugin serves and the URL schemes registered for each.
SCHEMES: dict[str, tuple[str, ...]] = {
    "sqlite": ("sqlite", "sqlite+pysqlite"),
    "postgresql": ("postgresql", "postgresql+psycopg"),
    "mysql": ("mysql", "mysql+pymysql", "mariadb", "mariadb+pymysql"),
}
#: The driver a bare scheme means here: SQLAlchemy's own default (psycopg2, mysqlclient) is
#: not what the extras install.
DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql",
                   "mariadb": "mariadb+pymysql"}
DEFAULT_TABLE = "wasmcache_entries"
TABLE_PATTERN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")
OPTION_NAMES = ("table", "connect_timeout", "io_timeout", "pool_size", "busy_timeout",
                "purge_interval", "purge_batch")
#: The drivers' TLS options that name files, checked at open: libpq reports a missing file at
#: connect time like an outage. ``sslrootcert=system`` means the system's CAs.
TLS_FILE_OPTIONS = {"postgresql": ("sslrootcert", "sslcert", "sslkey"),
                    "mysql": ("ssl_ca", "ssl_cert", "ssl_key")}


@dataclass(frozen=True)
class SqlOptions:
    """The parsed options of one backend URL."""

    family: str  # "sqlite", "postgresql" or "mysql" (MariaDB included)
    table: str = DEFAULT_TABLE
    connect_timeout: float = 5.0
    io_timeout: float = 30.0
    pool_size: int = 5
    busy_timeout: float = 5.0
    purge_interval: float = 60.0
    purge_batch: int = 1000


def family_of(drivername: str) -> str | None:
    """"postgresql+psycopg" -> "postgresql"; None for a scheme this plugin does not serve."""
    for family, schemes in SCHEMES.items():
        if drivername.lower() in schemes:
            return family
    return None


def parse_url(url: str) -> tuple[URL, SqlOptions]:
    """Split `url` into the SQLAlchemy URL (our options removed) and our options.

    Raises `WasmcacheError` with one line naming the bad option or URL part.
    """
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        sa_url = make_url(url)
        port = sa_url.port
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        reason = "its host or port cannot be read" if isinstance(exc, ValueError) else \
            "SQLAlchemy cannot parse it"
        raise WasmcacheError(f"invalid SQL backend URL {mask_url(url)!r}: {reason}") from None
    if port is not None and not 0 < port < 65536:
        raise WasmcacheError(f"invalid SQL backend URL {mask_url(url)!r}: port {port} is not "
                             "1-65535")
    family = family_of(sa_url.drivername)
    if family is None:
        served = ", ".join(s for group in SCHEMES.values() for s in group)
        raise WasmcacheError(
            f"unsupported SQL driver {sa_url.drivername!r}: wasmcache-sql serves {served}"
        )
    raw: dict[str, str] = {}
    for name in OPTION_NAMES:
        if name in sa_url.query:
            value = sa_url.query[name]
            if not isinstance(value, str):
                raise WasmcacheError(f"SQL backend option {name!r} is given more than once")
            raw[name] = value
    sa_url = sa_url.difference_update_query(OPTION_NAMES)
    bare = sa_url.drivername.lower()
    if bare in DEFAULT_DRIVERS:
        sa_url = sa_url.set(drivername=DEFAULT_DRIVERS[bare])
    if family == "sqlite" and sa_url.database in (None, "", ":memory:"):
        raise WasmcacheError(
            "SQL backend: sqlite needs a file (sqlite:///relative.db or sqlite:////abs/path.db); "
            "an in-memory database would not be shared between connections"
        )
    for name in TLS_FILE_OPTIONS.get(family, ()):
        value = sa_url.query.get(name)
        for path in (value,) if isinstance(value, str) else value or ():
            if path != "system" or name != "sslrootcert":
                require_readable(name, path, "SQL backend URL")
    if family != "sqlite" and "busy_timeout" in raw:
        raise WasmcacheError("SQL backend option 'busy_timeout' applies to sqlite URLs only")
    if family != "mysql" and "io_timeout" in raw:
        raise WasmcacheError("SQL backend option 'io_timeout' applies to mysql/mariadb URLs only")
    table = raw.get("table", DEFAULT_TABLE)
    if not TABLE_PATTERN.fullmatch(table):
        raise WasmcacheError(
            f"SQL backend option 'table': {table!r} is not a plain identifier "
            "([A-Za-z_][A-Za-z0-9_]*, at most 48 characters)"
        )
    options = SqlOptions(
        family=family,
        table=table,
        connect_timeout=_number(raw, "connect_timeout", 5.0, minimum=0.001),
        io_timeout=_number(raw, "io_timeout", 30.0, minimum=0.001),
        pool_size=int(_number(raw, "pool_size", 5, minimum=1, integer=True)),
        busy_timeout=_number(raw, "busy_timeout", 5.0, minimum=0),
        purge_interval=_number(raw, "purge_interval", 60.0, minimum=0),
        purge_batch=int(_number(raw, "purge_batch", 1000, minimum=0, integer=True)),
    )
    return sa_url, options


def _number(raw: dict[str, str], name: str, default: float, *, minimum: float,
            integer: bool = False) -> float:
    if name not in raw:
        return default
    text = raw[name]
    kind = "a whole number" if integer else "a number of seconds"
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise WasmcacheError(
            f"SQL backend option {name!r}: expected {kind}, not {text!r}") from None
    if not value >= minimum or value != value or value == float("inf"):
        raise WasmcacheError(
            f"SQL backend option {name!r}: expected {kind} >= {minimum:g}, not {text!r}"
        )
    return value
