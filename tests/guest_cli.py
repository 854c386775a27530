"""What the tests of the example guests in other languages share (tests/test_js_guest.py,
tests/test_c_guest.py): each must print what the Python guest prints, on every backend.

`backend_url` gives each test a URL of its own (a fresh SQL table or Redis key prefix, dropped
afterwards; a folder or file under its tmp_path), so runs never see each other's keys. Servers:
scripts/ensure-services (Redis, PostgreSQL, MariaDB).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from subprocess import CompletedProcess
from urllib.parse import quote

import plugin_helpers
import pytest
import redis
from wasmcache import open_backend
from wasmcache.testing.contract import unique_namespace

RunCli = Callable[..., CompletedProcess[str]]

ROOT = Path(__file__).resolve().parents[1]
TOUR_OUTPUT = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()
SQL_SERVERS = {"postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
               "mysql": "mysql+pymysql://root@127.0.0.1:3306/test"}
#: every backend but the Redis Cluster (whose fixture starts servers: test_js_guest.py)
BACKENDS = ["memory", "disk", "sqlite", "postgresql", "mysql", "redis"]

# Values whose repr() needs every rule: the quote choice, escapes, bytes that are not UTF-8
# (bad starts, overlong forms, surrogates, past U+10FFFF, cut short), characters that
# str.isprintable() rejects by category, and characters that only Unicode 15/16 assigned
# (printable to the guest's CPython 3.14, not to a Python 3.11 host).
TRICKY_VALUES = [
    b"",
    b"it's",  # the only quote in it: repr() picks "..."
    b"it's \"both\" back\\slash\ttab\nnewline\rreturn\x7fdel\x1besc",
    ("caf\u00e9 \u00a0 \u00ad \u200b \u2028 \u3000 \U0001F600 \ue000 \U0010ffff \u0378 "
     "\ufeff \U000E0001 \u1c89 \U0001fae9 \u31e4 \U00011f00 \u2fff").encode(),
    b"\xff\xfe \x80 \xc0\x80 \xc2 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xf0\x9f\x98",
    bytes(range(256)),
]


def assert_prints_every_value_alike(backend_url: str, guest: Path, hello_guest: Path,
                                    run_cli: RunCli) -> None:
    """`guest` prints what the Python guest prints for values written straight into the
    backend (TRICKY_VALUES), and for the errors (usage errors on stderr, in the same words)."""
    namespace = unique_namespace()
    backend = open_backend(backend_url)
    try:
        for number, value in enumerate(TRICKY_VALUES):
            backend.set(namespace, f"v{number}-\u00e9".encode(), value, None)
    finally:
        backend.close()
    commands = [("get", f"v{number}-\u00e9") for number in range(len(TRICKY_VALUES))]
    commands += [("get", "missing"), ("set", "", "x"), ("bogus", "k"), ("get",)]
    for command in commands:
        python, other = (run_cli("run", "--backend", backend_url, "--namespace", namespace,
                                 str(path), *command) for path in (hello_guest, guest))
        assert (other.returncode, other.stdout) == (python.returncode, python.stdout), \
            (command, other.stderr)
        if not python.stdout:  # a usage error: said on stderr only, in the same words
            assert other.stderr.splitlines()[-1:] == python.stderr.splitlines()[-1:], command




def _redis_url(base: str, client: redis.Redis | redis.RedisCluster) -> Iterator[str]:
    prefix = f"wasmcache-guest-test-{uuid.uuid4().hex}:"
    try:
        yield f"{base}?prefix={quote(prefix, safe='')}"
    finally:
        plugin_helpers.REDIS.delete_matching(client, prefix.encode() + b"*")
        client.close()


def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The body of a `backend_url` fixture: a URL of the backend named by the test's
    parameter, with its own table/prefix/dir. "redis-cluster" needs a `redis_cluster` fixture
    (the first master's port)."""
    kind = request.param
    if kind == "memory":
        yield "memory://"
    elif kind == "disk":
        yield f"disk://{tmp_path / 'store'}"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'cache.db'}"
    elif kind in SQL_SERVERS:
        table = f"wasmcache_guest_test_{uuid.uuid4().hex[:8]}"
        try:
            yield f"{SQL_SERVERS[kind]}?table={table}"
        finally:
            plugin_helpers.SQL.drop_tables(SQL_SERVERS[kind], table)  # <table> and <table>_schema
    elif kind == "redis":
        yield from _redis_url("redis://127.0.0.1:6379/0",
                              redis.Redis(host="127.0.0.1", port=6379, socket_timeout=5))
    elif kind == "redis-cluster":
        port = request.getfixturevalue("redis_cluster")[0]
        yield from _redis_url(f"redis+cluster://127.0.0.1:{port}",
                              redis.RedisCluster(host="127.0.0.1", port=port))
    else:
        raise ValueError(f"no backend called {kind!r}")
