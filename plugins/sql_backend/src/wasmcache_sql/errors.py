"""Which database errors mean "the server cannot be reached" (the guest's `unavailable`).

Only connection trouble becomes `BackendUnavailable`: refused, timed out, dropped, server gone
away or shutting down, too many connections, and SQLite's lock wait running out. Everything else
(bad SQL, a missing database, a wrong password, a certificate that fails verification)
propagates and becomes `internal`, so a misconfiguration is not mistaken for an outage that will
pass (`wasmcache_sql.check` refuses it before a guest runs).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc
from wasmcache import BackendUnavailable
from wasmcache.preflight import find_cause

#: MySQL/MariaDB client and server error codes for a connection that is not there.
MYSQL_UNAVAILABLE_CODES = frozenset({
    1040,  # too many connections
    1053,  # server shutdown in progress
    1927,  # connection was killed
    2002,  # can't connect through socket
    2003,  # can't connect to server (refused, timed out)
    2006,  # server has gone away
    2013,  # lost connection during query (includes read/write timeout)
    2014,  # commands out of sync (a half-read reply after a drop)
    2045, 2055,  # lost connection / SSL
    4031,  # disconnected for inactivity
})
#: PostgreSQL server messages that arrive before a session exists and still mean "try later".
PG_TRANSIENT_FATAL = ("is starting up", "is shutting down", "recovery mode",
                      "too many clients", "not yet accepting connections")
#: SQLSTATE classes/codes of a PostgreSQL session that was cut off.
PG_UNAVAILABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")
#: libpq's own refusals (no FATAL from the server, no SQLSTATE): the client's configuration,
#: its TLS files or the server's certificate, not an outage.
PG_CLIENT_FAULTS = ("no password supplied", "certificate verify failed",
                    "does not match host name", "certificate file", "private key",
                    "SSL was required", "server does not support SSL", "alert",
                    "invalid sslmode", "invalid connection option")


#: MySQL/MariaDB: InnoDB rolled this statement back as a deadlock's victim.
MYSQL_DEADLOCK = 1213
#: PostgreSQL SQLSTATEs of a statement rolled back to break a deadlock or a serialization
#: conflict.
PG_ROLLED_BACK_STATES = ("40P01", "40001")


def is_deadlock_victim(exc: BaseException) -> bool:
    """True if the database rolled the statement back to break a lock cycle with another
    session (concurrent upserts and the expiry sweep can form one on InnoDB). Running it again
    is the remedy both databases document; in autocommit nothing of it was kept."""
    if not isinstance(exc, sa_exc.DBAPIError) or exc.connection_invalidated:
        return False
    orig = exc.orig
    module = type(orig).__module__
    if module.startswith("pymysql"):
        return bool(orig.args) and orig.args[0] == MYSQL_DEADLOCK
    if module.startswith("psycopg"):
        return getattr(orig, "sqlstate", None) in PG_ROLLED_BACK_STATES
    return False


def is_unavailable(exc: BaseException) -> bool:
    """True if `exc` says the database could not be reached, not that the request was wrong."""
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError)):
        return True  # TimeoutError: no pooled connection became free in time
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return True
    if not isinstance(exc, sa_exc.OperationalError):
        return False
    orig = exc.orig
    module = type(orig).__module__
    if module.startswith("pymysql"):
        code = orig.args[0] if orig.args and isinstance(orig.args[0], int) else None
        if find_cause(exc, ssl.SSLCertVerificationError) is not None:
            return False  # PyMySQL reports it as 2003 "can't connect"
        return code in MYSQL_UNAVAILABLE_CODES
    if module.startswith("psycopg"):
        state = getattr(orig, "sqlstate", None)
        if state is not None:
            return state.startswith(PG_UNAVAILABLE_STATES)
        message = str(orig)
        if "FATAL:" in message:  # the server answered: auth, unknown database... or busy
            return any(text in message for text in PG_TRANSIENT_FATAL)
        if any(text in message for text in PG_CLIENT_FAULTS):
            return False
        return True  # refused, timed out, no route, connection closed
    if module.startswith(("sqlite3", "pysqlite")):
        message = str(orig).lower()
        return "database is locked" in message or "database is busy" in message
    return False


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise connection trouble as `BackendUnavailable`; let anything else through."""
    try:
        yield
    except Exception as exc:
        raise_if_unavailable(exc)
        raise


def raise_if_unavailable(exc: BaseException) -> None:
    """Raise `BackendUnavailable` from `exc` if it is connection trouble; else return (the
    caller re-raises `exc` with a bare ``raise``). The hot path's inline `translated`."""
    if is_unavailable(exc):
        raise BackendUnavailable(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    return f"{type(orig).__name__}: {text}"[:300]
