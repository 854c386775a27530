"""The wasi:keyvalue example guest through the CLI on a Redis server and a Redis Cluster."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from build import EXAMPLES, build_guest
from wasmcache.testing.keyvalue import check_keyvalue_guest


def test_keyvalue_guest_on_redis(run_cli, hello_guest: Path, shared_url: str,
                                 tmp_path: Path) -> None:
    kv_guest = build_guest("keyvalue_guest", world="keyvalue-command")
    check_keyvalue_guest(run_cli, kv_guest, hello_guest, shared_url, tmp_path,
                         EXAMPLES / "keyvalue_guest")


def test_keyvalue_guest_on_redis_cluster(run_cli, hello_guest: Path, redis_cluster: list[int],
                                         test_prefix: str, tmp_path: Path) -> None:
    kv_guest = build_guest("keyvalue_guest", world="keyvalue-command")
    url = f"redis+cluster://127.0.0.1:{redis_cluster[1]}?prefix={quote(test_prefix, safe='')}"
    check_keyvalue_guest(run_cli, kv_guest, hello_guest, url, tmp_path,
                         EXAMPLES / "keyvalue_guest")
