"""The wasi:keyvalue example guest through the CLI on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

from build import EXAMPLES, build_guest
from wasmcache.testing.keyvalue import check_keyvalue_guest


def test_keyvalue_guest_on_each_dialect(run_cli, hello_guest: Path, any_url: str,
                                        tmp_path: Path) -> None:
    kv_guest = build_guest("keyvalue_guest", world="keyvalue-command")
    check_keyvalue_guest(run_cli, kv_guest, hello_guest, any_url, tmp_path,
                         EXAMPLES / "keyvalue_guest")
