"""URL options, key layout, atomic SET ... EX, pooling and hiredis, checked against real servers."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis
from redis.cluster import key_slot
from redis.utils import HIREDIS_AVAILABLE
from wasmcache import BackendUnavailable, GuestSession, WasmcacheError, open_backend
from wasmcache_redis import RedisBackend, namespace_pattern, parse_options, redis_key
from wasmcache_redis.options import DEFAULT_PREFIX

from .conftest import RedisProcess, delete_matching, free_port


def ns() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


# --- URL parsing (no server needed) ---------------------------------------------------------
def test_own_options_are_stripped_and_the_rest_passed_verbatim() -> None:
    opts = parse_options("redis://u:p%40ss@h:7/2?prefix=a%3Ab&socket_timeout=0.5&hash_tag=none"
                         "&client_name=x%20y&retries=2")
    assert opts.redis_url == "redis://u:p%40ss@h:7/2?socket_timeout=0.5&client_name=x%20y"
    assert (opts.prefix, opts.hash_tag, opts.retries, opts.cluster) == (b"a:b", False, 2, False)


def test_defaults() -> None:
    opts = parse_options("redis://127.0.0.1")
    assert (opts.prefix, opts.hash_tag, opts.retries) == (DEFAULT_PREFIX, True, 0)
    assert parse_options("redis://h?prefix=").prefix == b""


def test_cluster_schemes_become_redis_schemes() -> None:
    opts = parse_options("rediss+cluster://h:7000?node=h2:7001&node=[::1]:7002")
    assert opts.cluster and opts.redis_url == "rediss://h:7000"
    assert opts.nodes == (("h2", 7001), ("::1", 7002))


@pytest.mark.parametrize("url, words", [
    ("redis://h?prefix=a{b", "'prefix'"),
    ("redis://h?hash_tag=slot", "'hash_tag'"),
    ("redis://h?retries=-1", "'retries'"),
    ("redis://h?retries=1&retries=2", "'retries'"),
    ("redis://h?node=h:1", "'node'"),
    ("redis+cluster://h?node=nope", "'node'"),
    ("redis://h?prefx=a", "'prefx'"),
    ("redis://h?socket_timeout=soon", "'socket_timeout'"),
    ("redis://h?decode_responses=yes", "'decode_responses'"),
    ("redis+cluster://h/3", "database 0"),
    ("redis+cluster://h?prefx=a", "'prefx'"),
])
def test_bad_option_is_one_line_naming_it(url: str, words: str) -> None:
    with pytest.raises(WasmcacheError) as info:
        open_backend(url)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_timeouts_default_to_two_seconds_and_the_url_wins() -> None:
    default = open_backend("redis://127.0.0.1:6379/0")
    chosen = open_backend("redis://127.0.0.1:6379/0?socket_timeout=0.5&socket_connect_timeout=0.25")
    try:
        assert isinstance(default, RedisBackend) and isinstance(chosen, RedisBackend)
        assert default._pool is not None and chosen._pool is not None
        kwargs = default._pool.connection_kwargs
        assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (2.0, 2.0)
        kwargs = chosen._pool.connection_kwargs
        assert (kwargs["socket_connect_timeout"], kwargs["socket_timeout"]) == (0.25, 0.5)
    finally:
        default.close()
        chosen.close()


# --- key layout -------------------------------------------------------------------------------
def test_key_layout_and_hash_tag() -> None:
    assert redis_key("app", b"k\0:{x}", b"p:") == b"p:{app}:k\0:{x}"
    assert redis_key("app", b"k", b"p:", hash_tag=False) == b"p:app:k"
    keys = [redis_key("app", key, b"p:") for key in (b"a", b"{b}", b"zz", bytes(range(256)))]
    assert len({key_slot(key) for key in keys}) == 1


def test_namespace_pattern_escapes_glob_characters() -> None:
    assert namespace_pattern("a.b", b"p*[x]:") == b"p\\*\\[x\\]:{a.b}:*"


def test_stored_key_is_exactly_the_layout(shared_url: str, test_prefix: str,
                                          shared_redis: redis.Redis) -> None:
    backend = open_backend(shared_url)
    namespace, key = ns(), "caf\u00e9 {x}\0*".encode()
    try:
        backend.set(namespace, key, b"\xff\x00v", None)
        raw = test_prefix.encode() + b"{" + namespace.encode() + b"}:" + key
        assert shared_redis.get(raw) == b"\xff\x00v"
        assert shared_redis.ttl(raw) == -1
    finally:
        backend.delete(namespace, key)
        backend.close()


# --- one server: atomic SET EX, pooling, hiredis, URL forms -------------------------------------
@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """A server only this module uses, with a password, an ACL user and a unix socket."""
    directory = tmp_path_factory.mktemp("redis-private")
    server = RedisProcess(directory, "--requirepass", "s3cret:/@", "--appendonly", "no",
                          "--unixsocket", str(directory / "redis.sock"), "--unixsocketperm", "700")
    server.start()
    try:
        with redis.Redis(port=server.port, password="s3cret:/@") as admin:
            admin.acl_setuser("guest-user", enabled=True, passwords=["+pw"], keys=["wc:*"],
                              commands=["+get", "+set", "+del", "+ping", "+client", "+hello"])
        yield server
    finally:
        server.stop()


def _admin(server: RedisProcess) -> redis.Redis:
    return redis.Redis(port=server.port, password="s3cret:/@")


def test_set_with_ttl_is_one_set_command(private_redis: RedisProcess) -> None:
    url = f"redis://:{quote('s3cret:/@', safe='')}@127.0.0.1:{private_redis.port}/0"
    backend = open_backend(url)
    with _admin(private_redis) as admin:
        try:
            admin.config_resetstat()
            backend.set("app", b"k", b"v1", 30)
            stats = admin.info("commandstats")
            assert stats["cmdstat_set"]["calls"] == 1
            assert not any(name in stats for name in
                           ("cmdstat_expire", "cmdstat_pexpire", "cmdstat_multi"))
            stored = redis_key("app", b"k", DEFAULT_PREFIX)
            assert 0 < admin.ttl(stored) <= 30
            backend.set("app", b"k", b"v2", None)  # plain SET clears the expiry
            assert admin.ttl(stored) == -1 and admin.get(stored) == b"v2"
        finally:
            backend.delete("app", b"k")
            backend.close()


def test_pool_reuses_one_connection_and_hiredis_parses(private_redis: RedisProcess) -> None:
    url = f"redis://:{quote('s3cret:/@', safe='')}@127.0.0.1:{private_redis.port}/0"
    backend = open_backend(url)
    assert isinstance(backend, RedisBackend) and backend._pool is not None
    try:
        for index in range(50):
            backend.set("app", b"k", str(index).encode(), None)
            assert backend.get("app", b"k") == str(index).encode()
        assert HIREDIS_AVAILABLE
        connection = backend._pool.get_connection()
        try:
            assert type(connection._parser).__name__ == "_HiredisParser"
            assert connection.protocol in (3, "3")  # redis-py 8 speaks RESP3 by default
            assert len(backend._pool._available_connections) == 0  # the only one is ours
        finally:
            backend._pool.release(connection)
        with _admin(private_redis) as admin:
            assert admin.info("stats")["total_connections_received"] >= 1
    finally:
        backend.delete("app", b"k")
        backend.close()


def test_unix_socket_with_db(private_redis: RedisProcess) -> None:
    sock = private_redis.directory / "redis.sock"
    backend = open_backend(f"unix://:{quote('s3cret:/@', safe='')}@{sock}?db=3&prefix=u:")
    try:
        backend.set("app", b"k", b"over unix", None)
        with redis.Redis(port=private_redis.port, password="s3cret:/@", db=3) as admin:
            assert admin.get(b"u:{app}:k") == b"over unix"
    finally:
        backend.delete("app", b"k")
        backend.close()


def test_acl_username_and_password(private_redis: RedisProcess) -> None:
    backend = open_backend(f"redis://guest-user:pw@127.0.0.1:{private_redis.port}?prefix=wc:")
    try:
        backend.set("app", b"k", b"v", None)
        assert backend.get("app", b"k") == b"v"
        backend.delete("app", b"k")
    finally:
        backend.close()


def test_wrong_password_is_internal_not_unavailable(private_redis: RedisProcess) -> None:
    backend = open_backend(f"redis://:wrong@127.0.0.1:{private_redis.port}")
    try:
        with pytest.raises(redis.AuthenticationError):
            backend.get("app", b"k")
        assert GuestSession(backend, "app").get("k") == "internal"
    finally:
        backend.close()


def test_refused_port_is_unavailable() -> None:
    backend = open_backend(f"redis://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(BackendUnavailable):
            backend.set("app", b"k", b"v", None)
        assert GuestSession(backend, "app").get("k") == "unavailable"
    finally:
        backend.close()


def test_rediss_tls_with_a_private_ca(tmp_path_factory: pytest.TempPathFactory) -> None:
    """rediss:// against a TLS-only redis-server, verifying its certificate (IP SAN)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    directory = tmp_path_factory.mktemp("redis-tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    server = RedisProcess(directory, "--port", "0", "--tls-port", str(port),
                          "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                          "--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no",
                          "--appendonly", "no", port=port,
                          client={"ssl": True, "ssl_ca_certs": str(cert)})
    server.start()
    try:
        url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={quote(str(cert), safe='')}"
        backend = open_backend(url)
        try:
            backend.set("app", b"k", b"over tls", 60)
            assert backend.get("app", b"k") == b"over tls"
        finally:
            backend.close()
        unverified = open_backend(f"rediss://127.0.0.1:{port}/0")
        try:  # a certificate that fails verification is a configuration fault: `internal`
            assert GuestSession(unverified, "app").get("k") == "internal"
        finally:
            unverified.close()
        plain = open_backend(f"redis://127.0.0.1:{port}/0")
        try:  # a plain client on a TLS port is dropped: an outage, not a crash
            with pytest.raises(BackendUnavailable):
                plain.get("app", b"k")
        finally:
            plain.close()
    finally:
        server.stop()


def test_cluster_url_errors() -> None:
    """No node reachable: `unavailable`; a node that is not in cluster mode: `internal`."""
    down = open_backend(f"redis+cluster://127.0.0.1:{free_port()}")
    not_cluster = open_backend("redis+cluster://127.0.0.1:6379")
    try:
        assert GuestSession(down, "app").get("k") == "unavailable"
        assert GuestSession(not_cluster, "app").get("k") == "internal"
    finally:
        down.close()
        not_cluster.close()


# --- cluster: the hash tag at work ------------------------------------------------------------
def test_cluster_namespace_is_one_slot_so_multi_key_work_succeeds(redis_cluster: list[int],
                                                                  test_prefix: str) -> None:
    url = f"redis+cluster://127.0.0.1:{redis_cluster[1]}?prefix={quote(test_prefix, safe='')}"
    backend = open_backend(url)
    namespace = ns()
    keys = [f"key-{index}".encode() for index in range(20)]
    try:
        for key in keys:
            backend.set(namespace, key, key.upper(), None)
        client = backend._redis()
        stored = [redis_key(namespace, key, test_prefix.encode()) for key in keys]
        assert backend.usage(namespace) == (20, sum(len(key) for key in keys))
        assert client.mget(stored) == [key.upper() for key in keys]  # one slot: no CROSSSLOT
        with client.pipeline(transaction=True) as pipe:  # MULTI/EXEC needs one slot too
            pipe.get(stored[0]).get(stored[-1])
            assert pipe.execute() == [b"KEY-0", b"KEY-19"]
        assert delete_matching(client, namespace_pattern(namespace, test_prefix.encode())) == 20
    finally:
        backend.close()


def test_cluster_hash_tag_none_spreads_a_namespace(redis_cluster: list[int],
                                                   test_prefix: str) -> None:
    url = (f"redis+cluster://127.0.0.1:{redis_cluster[2]}?hash_tag=none"
           f"&node=127.0.0.1:{redis_cluster[0]}&prefix={quote(test_prefix, safe='')}")
    backend = open_backend(url)
    namespace = ns()
    keys = [f"key-{index}".encode() for index in range(20)]
    try:
        for key in keys:
            backend.set(namespace, key, key, None)
        client = backend._redis()
        stored = [redis_key(namespace, key, test_prefix.encode(), hash_tag=False) for key in keys]
        assert len({key_slot(key) for key in stored}) > 1
        assert len({client.get_node_from_key(key).name for key in stored}) > 1
        assert all(backend.get(namespace, key) == key for key in keys)
        assert backend.usage(namespace) == (20, sum(len(key) for key in keys))
    finally:
        for key in keys:
            backend.delete(namespace, key)
        backend.close()
