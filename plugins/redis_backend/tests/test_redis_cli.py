"""The real `wasmcache` command on the shared Redis: the example guest's tour and `backends`."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis
from wasmcache_redis import namespace_pattern, redis_key
from wasmcache_redis.options import DEFAULT_PREFIX

from .conftest import delete_matching

TOUR = (Path(__file__).resolve().parents[3] / "examples" / "hello_cache"
        / "expected_output.txt").read_text()
SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


@pytest.mark.slow
def test_tour_on_the_shared_server_prints_the_expected_output(hello_guest: Path, run_cli: object,
                                                             shared_redis: redis.Redis) -> None:
    """The issue's own command line: default prefix, db 0, a namespace no one else uses."""
    namespace = f"t-{uuid.uuid4().hex[:16]}"
    try:
        done = run_cli("run", "--backend", "redis://127.0.0.1:6379/0",  # type: ignore[operator]
                       "--namespace", namespace, str(hello_guest))
        assert done.returncode == 0, done.stderr
        assert done.stdout == TOUR
        left = set(shared_redis.scan_iter(match=namespace_pattern(namespace, DEFAULT_PREFIX)))
        kept = (b"visits", b"session", "caf\u00e9/\U0001F600".encode())
        assert left == {redis_key(namespace, key, DEFAULT_PREFIX) for key in kept}
    finally:
        delete_matching(shared_redis, namespace_pattern(namespace, DEFAULT_PREFIX))
    assert not list(shared_redis.scan_iter(match=namespace_pattern(namespace, DEFAULT_PREFIX)))


def test_backends_lists_the_redis_schemes(run_cli: object) -> None:
    done = run_cli("backends")  # type: ignore[operator]
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines()[1:]}
    for scheme in SCHEMES:
        assert rows.get(f"{scheme}://") == "wasmcache-redis", done.stdout
    assert "wasmcache-redis" not in done.stderr  # loaded without failure or conflict
