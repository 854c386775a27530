"""`check`: one contact with Redis before a guest runs, and what each refusal means.

Connecting runs the whole handshake a guest's first call would: TCP, TLS (certificate
verification), AUTH / HELLO, SELECT of the database; a cluster client also reads the slot map.
Then PING, and for a single-server URL, ``CLUSTER INFO`` to catch a cluster node named by a
``redis://`` URL (its keys would answer MOVED). A refusal that waiting will not cure becomes
one line naming the fix (`wasmcache.BackendMisconfigured`); refused, timed-out and dropped
connections stay `wasmcache.BackendUnavailable` (`errors.is_outage`).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from redis import exceptions as rex
from redis.connection import parse_url
from wasmcache import BackendMisconfigured
from wasmcache.preflight import find_cause, tls_problem

from .errors import NOT_A_CLUSTER, raise_if_outage

if TYPE_CHECKING:
    from .backend import RedisBackend
    from .options import RedisOptions


def check(backend: RedisBackend) -> None:
    """Raise `BackendMisconfigured` or `BackendUnavailable` unless Redis answers as configured."""
    options = backend.options
    try:
        client = backend._redis()  # a cluster client connects here, reading the slot map
        client.ping()
        if not options.cluster:
            _refuse_cluster_node(client, options)
    except BackendMisconfigured:
        raise
    except Exception as exc:
        problem = misconfiguration(exc, options)
        if problem is not None:
            raise BackendMisconfigured(problem) from None
        raise_if_outage(exc)
        raise BackendMisconfigured(f"{server_name(options)} answered the check with an error: "
                                   f"{type(exc).__name__}: {_one_line(exc)}") from None


def _refuse_cluster_node(client: object, options: RedisOptions) -> None:
    try:
        client.execute_command("CLUSTER", "INFO")  # type: ignore[attr-defined]
    except rex.ResponseError:  # cluster support disabled, command renamed away, or NOPERM
        return
    host, port = _address(options)
    raise BackendMisconfigured(
        f"{server_name(options)} is a Redis Cluster node: use "
        f"{'rediss' if _tls(options) else 'redis'}+cluster://{host}:{port}, so each key "
        "reaches the node that owns its slot")


def misconfiguration(exc: BaseException, options: RedisOptions) -> str | None:
    """One line for a refusal that waiting will not cure, or None (an outage or unknown)."""
    where = server_name(options)
    login = find_cause(exc, (rex.AuthenticationError, rex.AuthenticationWrongNumberOfArgsError))
    if login is not None:
        if not parse_url(options.redis_url).get("password"):
            return (f"{where} requires a password and the URL gives none: add "
                    "user:password@ to the URL, or use backend_password_file")
        return (f"{where} refused the login ({_one_line(login)}): check the user name and "
                "password (user:password@ in the URL, or backend_password_file)")
    verify = find_cause(exc, ssl.SSLCertVerificationError)
    if verify is not None:
        return tls_problem(where, verify.verify_message or str(verify), "ssl_ca_certs")
    handshake = find_cause(exc, ssl.SSLError)
    if handshake is not None and _tls(options):
        reason = _one_line(handshake)
        if "ssl_certfile" in _query(options):
            return (f"{where} ended the TLS session ({reason}): it did not accept the client "
                    "certificate (ssl_certfile): it must be signed by a CA the server trusts")
        return (f"{where} ended the TLS session ({reason}): it probably requires a client "
                "certificate: give ssl_certfile=PATH and ssl_keyfile=PATH")
    denied = find_cause(exc, rex.NoPermissionError)
    if denied is not None:
        return (f"{where}: the user may not run a command wasmcache needs ({_one_line(denied)}): "
                "grant it with ACL SETUSER (+@read +@write, keys ~PREFIX*)")
    if isinstance(exc, rex.ResponseError) and "db index is out of range" in str(exc).lower():
        database = parse_url(options.redis_url).get("db", 0)
        return (f"{where} has no database {database}: use a number below its `databases` "
                "setting (16 by default)")
    if options.cluster and NOT_A_CLUSTER in str(exc).lower():
        host, port = _address(options)
        scheme = "rediss" if _tls(options) else "redis"
        return (f"{scheme}+cluster:// names {host}:{port}, a Redis server not in cluster mode: "
                f"use {scheme}://{host}:{port} for one server, or name a node of the cluster")
    return None


def server_name(options: RedisOptions) -> str:
    """``Redis at 127.0.0.1:6379``, ``Redis Cluster node at ...``, ``Redis at /path.sock``."""
    kwargs = parse_url(options.redis_url)
    if "path" in kwargs:
        return f"Redis at {kwargs['path']}"
    host, port = _address(options)
    return f"{'Redis Cluster node' if options.cluster else 'Redis'} at {host}:{port}"


def _address(options: RedisOptions) -> tuple[str, int]:
    kwargs = parse_url(options.redis_url)
    return kwargs.get("host") or "localhost", int(kwargs.get("port") or 6379)


def _tls(options: RedisOptions) -> bool:
    return options.redis_url.lower().startswith("rediss://")


def _query(options: RedisOptions) -> dict[str, list[str]]:
    return parse_qs(urlsplit(options.redis_url).query)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
