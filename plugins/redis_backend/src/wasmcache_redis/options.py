"""Parsing a wasmcache Redis URL into what redis-py needs and what this plugin needs.

URLs (everything redis-py's ``from_url`` understands, plus two cluster schemes)::

    redis://[[user]:[password]@]host[:port][/db][?option=value&...]
    rediss://...                      the same over TLS
    unix://[[user]:[password]@]/path/to/redis.sock[?db=N&...]
    redis+cluster://[[user]:[password]@]host[:port][?...]    Redis Cluster, host = any node
    rediss+cluster://...              Redis Cluster over TLS

Options of this plugin (removed before the URL reaches redis-py, which would reject them):

    prefix=TEXT          key prefix, UTF-8, percent-encoded as needed [default: wasmcache:]
                         (may be empty; must not contain '{' or '}')
    hash_tag=namespace   keys are PREFIX{NAMESPACE}:KEY, one cluster slot per namespace [default]
    hash_tag=none        keys are PREFIX NAMESPACE:KEY, a namespace spreads over every slot
    retries=N            extra attempts after a connection error or timeout [default: 0]
    node=host:port       cluster only, repeatable: more startup nodes to discover the cluster from

redis-py options, with this plugin's defaults where it sets one:

    socket_connect_timeout=SECONDS   [default here: 2]
    socket_timeout=SECONDS           [default here: 2]
    db, socket_keepalive, socket_read_size, health_check_interval, max_connections,
    protocol (2 or 3; redis-py 8 defaults to 3), client_name, ssl_cert_reqs, ssl_ca_certs,
    ssl_certfile, ssl_keyfile, ssl_check_hostname, ssl_min_version, ... (see redis-py's
    ``redis.connection.parse_url``). An option redis-py does not know is refused at open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote_plus, urlsplit

from wasmcache import StoreDescription, WasmcacheError

DEFAULT_PREFIX = b"wasmcache:"
DEFAULT_PORT = 6379
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_SOCKET_TIMEOUT = 2.0
HASH_TAG_CHOICES = ("namespace", "none")

SERVER_SCHEMES = ("redis", "rediss", "unix")
CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
OWN_OPTIONS = ("prefix", "hash_tag", "retries", "node")


@dataclass(frozen=True)
class RedisOptions:
    """One parsed URL: the URL for redis-py and the options this plugin handles itself."""

    redis_url: str = field(repr=False)  # holds the password: never in a repr or a log line
    cluster: bool
    prefix: bytes = DEFAULT_PREFIX
    hash_tag: bool = True
    retries: int = 0
    nodes: tuple[tuple[str, int], ...] = ()


def parse_options(url: str) -> RedisOptions:
    """Split `url` into redis-py's URL and this plugin's options; one-line errors name the option.

    The query is split by hand, not re-encoded, so redis-py sees its own options byte for byte.
    """
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or (scheme not in SERVER_SCHEMES and scheme not in CLUSTER_SCHEMES):
        raise WasmcacheError(f"not a Redis URL: expected one of "
                             f"{', '.join(SERVER_SCHEMES + tuple(CLUSTER_SCHEMES))}://...")
    cluster = scheme in CLUSTER_SCHEMES
    base, qsep, query = rest.partition("?")
    kept: list[str] = []
    own: dict[str, list[str]] = {}
    for pair in query.split("&") if query else []:
        if not pair:
            continue
        name, _eq, value = pair.partition("=")
        decoded = unquote_plus(name)
        if decoded in OWN_OPTIONS:
            own.setdefault(decoded, []).append(unquote_plus(value))
        else:
            kept.append(pair)
    redis_scheme = CLUSTER_SCHEMES.get(scheme, scheme)
    redis_url = f"{redis_scheme}://{base}" + ("?" + "&".join(kept) if kept else "")
    return RedisOptions(
        redis_url=redis_url,
        cluster=cluster,
        prefix=_prefix(own),
        hash_tag=_hash_tag(own),
        retries=_retries(own),
        nodes=_nodes(own, cluster),
    )


def _single(own: dict[str, list[str]], name: str) -> str | None:
    values = own.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise WasmcacheError(f"Redis URL option {name!r} is given {len(values)} times")
    return values[0]


def _prefix(own: dict[str, list[str]]) -> bytes:
    raw = _single(own, "prefix")
    if raw is None:
        return DEFAULT_PREFIX
    if "{" in raw or "}" in raw:
        raise WasmcacheError("Redis URL option 'prefix' must not contain '{' or '}': "
                             "the cluster hash tag of each key follows it")
    return raw.encode("utf-8", "surrogatepass")


def _hash_tag(own: dict[str, list[str]]) -> bool:
    raw = _single(own, "hash_tag")
    if raw is None:
        return True
    if raw not in HASH_TAG_CHOICES:
        raise WasmcacheError(f"Redis URL option 'hash_tag' must be one of "
                             f"{', '.join(HASH_TAG_CHOICES)}, not {raw!r}")
    return raw == "namespace"


def _retries(own: dict[str, list[str]]) -> int:
    raw = _single(own, "retries")
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) > 10:
        raise WasmcacheError(f"Redis URL option 'retries' must be an integer 0-10, not {raw!r}")
    return int(raw)


def _nodes(own: dict[str, list[str]], cluster: bool) -> tuple[tuple[str, int], ...]:
    values = own.get("node", [])
    if values and not cluster:
        raise WasmcacheError("Redis URL option 'node' is only for redis+cluster:// and "
                             "rediss+cluster:// URLs")
    nodes = []
    for value in values:
        host, _colon, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise WasmcacheError(f"Redis URL option 'node' must be HOST:PORT, not {value!r}")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def store_description(options: RedisOptions) -> StoreDescription:
    """The server for telemetry: the URL's host and port (a cluster's: the node it names), or
    a unix socket's path; read from the parsed URL, so a user or password never enters it.
    Call it on a URL redis-py has accepted."""
    parts = urlsplit(options.redis_url)
    if parts.scheme == "unix":
        return StoreDescription(system="redis", address=parts.path or None)
    return StoreDescription(system="redis", address=parts.hostname or "localhost",
                            port=parts.port or DEFAULT_PORT)
