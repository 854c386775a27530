"""`check`: one contact with the database before a guest runs, and what each refusal means.

The contact is the one a first call would make: connect (TLS and its verification, the login),
then create or check the tables (so a missing permission shows now), or a ``SELECT 1`` once
they are known. A refusal that waiting will not cure becomes one line naming the fix
(`wasmcache.BackendMisconfigured`); refused, timed-out and dropped connections stay
`wasmcache.BackendUnavailable` (`errors.is_unavailable`). The server's own words are kept in
parentheses; they never hold the password.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from wasmcache import BackendMisconfigured, BackendUnavailable, WasmcacheError
from wasmcache.preflight import find_cause, tls_problem

from .errors import translated

if TYPE_CHECKING:
    from .backend import SqlBackend

#: MySQL/MariaDB error codes of a refused login, a database the user may not use or that does
#: not exist, and a table the user may not create or use.
MYSQL_LOGIN = {1045, 1698, 1251, 3159}
MYSQL_DATABASE = {1044, 1049}
MYSQL_TABLE = {1142, 1143}
FAMILY_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB", "sqlite": "SQLite"}


def check(backend: SqlBackend) -> None:
    """Raise `BackendMisconfigured` or `BackendUnavailable` unless the database answers and
    the tables are there (created now if they were not)."""
    outage, backend.outage_at_open = backend.outage_at_open, None
    if outage is not None:  # the opener just tried: report that, do not wait twice
        raise outage
    try:
        with translated():
            if backend._ready:
                with backend.engine.connect() as conn:
                    conn.exec_driver_sql("SELECT 1")
            else:
                backend.ensure_ready()
    except (BackendUnavailable, BackendMisconfigured):
        raise
    except WasmcacheError as exc:  # a schema newer than this release
        raise BackendMisconfigured(str(exc)) from None
    except Exception as exc:
        raise BackendMisconfigured(misconfiguration(exc, backend)) from None


def misconfiguration(exc: BaseException, backend: SqlBackend) -> str:
    """One line: what the database refused, and how to fix it."""
    url, family = backend.engine.url, backend.options.family
    where = server_name(backend)
    user, database, table = url.username or "(default)", url.database, backend.options.table
    orig = getattr(exc, "orig", None) or exc
    said = " ".join(str(orig).split())
    # libpq's "connection failed: connection to server at ... failed: FATAL: <reason>", and
    # a statement's error without the quoted statement ("LINE 2: CREATE TABLE ...")
    reason = said.rsplit(" failed: ", 1)[-1].removeprefix("FATAL: ").split(" LINE ")[0].strip()
    verify = find_cause(exc, ssl.SSLCertVerificationError)
    if verify is not None:
        return tls_problem(where, verify.verify_message or str(verify), _ca_option(family))
    if family == "postgresql":
        found = _postgresql(getattr(orig, "sqlstate", None) or "", reason, where, user,
                            database, table)
    elif family == "mysql":
        code = orig.args[0] if getattr(orig, "args", None) else None
        found = _mysql(code, said, exc, where, user, database, table)
    else:
        found = None
    return found or f"cannot use {where} (table {table!r}): {type(orig).__name__}: {said}"


def _postgresql(state: str, reason: str, where: str, user: str, database: str | None,
                table: str) -> str | None:
    low = reason.lower()
    if state == "28P01" or "password authentication failed" in low:
        return (f"{where} refused the password of user {user!r} ({reason}): check it "
                "(user:password@ in the URL, or backend_password_file)")
    if "no password supplied" in low:
        return (f"{where} requires a password for user {user!r} and the URL gives none: add "
                "user:password@ to the URL, or use backend_password_file")
    if "no pg_hba.conf entry" in low:
        return (f"{where} does not accept this connection ({reason}): if it takes TLS only, "
                "add sslmode=verify-full&sslrootcert=CA; else its pg_hba.conf must allow this "
                "user and database")
    if "client certificate" in low or "certificate authentication failed" in low:
        return (f"{where} requires a client certificate for user {user!r} ({reason}): give "
                "sslcert=PATH and sslkey=PATH, a certificate whose CN is the user's name")
    if any(text in low for text in ("certificate verify failed", "does not match host name",
                                    "root certificate file")):
        return tls_problem(where, reason, "sslrootcert")
    if "does not support ssl" in low:
        return (f"{where} does not speak TLS ({reason}): use a server with ssl=on, or lower "
                "sslmode only on a network you trust")
    if state == "3D000" or ("database" in low and "does not exist" in low):
        return (f"{where} has no database {database!r} ({reason}): create it (CREATE DATABASE "
                f"{database}) or fix the URL's /DATABASE")
    if state == "42501" or "permission denied" in low:
        return (f"user {user!r} may not create or use the table {table!r} on {where} "
                f"({reason}): GRANT CREATE ON SCHEMA public TO {user} and rights on the tables, "
                "or create them first as their owner")
    if "ssl" in low or "alert" in low:
        return (f"{where} ended the TLS session ({reason}): check sslcert and sslkey (a client "
                "certificate signed by a CA the server trusts)")
    return None


def _mysql(code: object, said: str, exc: BaseException, where: str, user: str,
           database: str | None, table: str) -> str | None:
    if code in MYSQL_LOGIN:
        return (f"{where} refused the login of user {user!r} ({said}): check the password, "
                "and whether the account requires TLS or a client certificate (REQUIRE SSL / "
                "X509: give ssl_ca, and ssl_cert with ssl_key)")
    if code in MYSQL_DATABASE:
        return (f"user {user!r} may not use database {database!r} on {where}, or it does not "
                f"exist ({said}): CREATE DATABASE {database} / GRANT ALL ON {database}.* TO "
                "the user, or fix the URL's /DATABASE")
    if code in MYSQL_TABLE:
        return (f"user {user!r} may not create or use the table {table!r} on {where} ({said}): "
                f"GRANT CREATE, SELECT, INSERT, UPDATE, DELETE ON {database}.* TO the user, or "
                "create the tables first")
    handshake = find_cause(exc, ssl.SSLError)
    if handshake is not None:
        return (f"{where} ended the TLS session ({' '.join(str(handshake).split())}): check "
                "ssl_cert and ssl_key (a client certificate signed by a CA the server trusts)")
    return None


def server_name(backend: SqlBackend) -> str:
    """``PostgreSQL at 127.0.0.1:5432``, ``MySQL/MariaDB at ...``, ``SQLite file x.db``."""
    url, family = backend.engine.url, backend.options.family
    if family == "sqlite":
        return f"SQLite file {url.database}"
    port = f":{url.port}" if url.port else ""
    return f"{FAMILY_NAMES[family]} at {url.host or 'localhost'}{port}"


def _ca_option(family: str) -> str:
    return "sslrootcert" if family == "postgresql" else "ssl_ca"
