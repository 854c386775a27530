"""The wasi:keyvalue example guest through the CLI on disk:// (tour, read-only, shared data)."""

from __future__ import annotations

from pathlib import Path

from build import EXAMPLES, build_guest
from wasmcache.testing.keyvalue import check_keyvalue_guest


def test_keyvalue_guest_on_disk(run_cli, hello_guest: Path, tmp_path: Path) -> None:
    kv_guest = build_guest("keyvalue_guest", world="keyvalue-command")
    check_keyvalue_guest(run_cli, kv_guest, hello_guest, f"disk://{tmp_path / 'cache'}",
                         tmp_path,
                         EXAMPLES / "keyvalue_guest")
