"""What each ``journal_mode`` survives: the README's table, held to account.

Two faults under a running host, each call in a child host process (a crash is seen as a crash,
not the test's own): the directory frozen with ``chattr -R +i`` (root ignores file modes), and a
filesystem with no byte left (a 4 MiB tmpfs filled to the last byte by another file). Both need
root; tests/test_hardening_faults.py runs the shared fault tests on the default mode.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from wasmcache import GuestSession, WasmcacheError, open_backend

MODES = {"truncate": "", "persist": "?journal_mode=persist", "wal": "?journal_mode=wal"}
KEYS = 8

CHILD = textwrap.dedent("""
    import json, os, subprocess, sys
    from wasmcache import GuestSession, open_backend
    url, directory, fault = sys.argv[1:4]
    backend = open_backend(url)
    host = GuestSession(backend, "modes")
    for i in range(8):
        assert host.set(f"k{i}", f"value-{i}".encode(), None) is None
    if fault == "freeze":
        subprocess.run(["chattr", "-R", "+i", directory], check=True)
    else:  # fill the filesystem to its last byte with another file
        for name, chunk in (("filler", 1 << 16), ("filler-tail", 1)):
            fd = os.open(os.path.join(os.path.dirname(directory), name), os.O_WRONLY | os.O_CREAT)
            try:
                while True:
                    os.write(fd, b"\\0" * chunk)
            except OSError:
                pass
            os.close(fd)
    def outcome(result):
        if isinstance(result, bytes):
            return "value ok" if result == b"value-1" else "value WRONG"
        return "ok" if result is None else str(result)
    answers = {"get": outcome(host.get("k1")), "overwrite": outcome(host.set("k2", b"v", None)),
               "new key": outcome(host.set("new", b"v", None)),
               "delete": outcome(host.delete("k3"))}
    answers["get after"] = outcome(host.get("k1"))
    backend.close()  # as `wasmcache run` does when the guest returns
    print(json.dumps(answers), flush=True)
""")


def run_child(url: str, directory: Path, fault: str) -> tuple[dict[str, str], int, str]:
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(directory), fault],
                          capture_output=True, text=True, timeout=120)
    lines = done.stdout.strip().splitlines()
    answers = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return answers, done.returncode, done.stderr


def stored(url: str) -> dict[str, bytes | None]:
    """Every key as a fresh backend reads it, after an integrity check of the database."""
    backend = open_backend(url)
    try:
        values = {f"k{i}": backend.get("modes", f"k{i}".encode()) for i in range(KEYS)}
    finally:
        backend.close()
    directory = Path(url.removeprefix("disk://").split("?")[0])
    with sqlite3.connect(directory / "cache.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    return values


def untouched(values: dict[str, bytes | None], changed: set[str]) -> bool:
    return all(values[key] == f"value-{key[1:]}".encode() for key in values if key not in changed)


class HostKilledBySigbus(AssertionError):
    """WAL's known crash below; any other failure of the test is a real failure."""


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: chattr +i and mounting a tmpfs")


@pytest.mark.parametrize("mode", [
    "truncate", "persist",
    pytest.param("wal", marks=pytest.mark.xfail(
        strict=True, raises=HostKilledBySigbus,
        reason="WAL memory-maps cache.db-shm for writing: frozen, the next call is a SIGBUS")),
])
def test_a_frozen_directory(tmp_path: Path, mode: str) -> None:
    need_root()
    if shutil.which("chattr") is None:
        pytest.skip("needs chattr (e2fsprogs)")
    directory = tmp_path / "cache"
    url = f"disk://{directory}{MODES[mode]}"
    try:
        answers, status, stderr = run_child(url, directory, "freeze")
    finally:
        subprocess.run(["chattr", "-R", "-i", str(directory)], check=False)
    if status == -signal.SIGBUS:
        raise HostKilledBySigbus(f"{mode}: the host died of SIGBUS")
    assert status == 0, stderr[-600:]
    assert answers == {"get": "value ok", "overwrite": "internal", "new key": "internal",
                       "delete": "internal", "get after": "value ok"}
    assert untouched(stored(url), changed=set())


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    need_root()
    target = tmp_path / "small"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(target)], check=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.mark.parametrize("mode", list(MODES))
def test_a_filesystem_with_no_byte_free(tmpfs: Path, mode: str) -> None:
    directory = tmpfs / "cache"
    url = f"disk://{directory}{MODES[mode]}"
    answers, status, stderr = run_child(url, directory, "full")
    assert status == 0, stderr[-600:]
    assert answers["get"] == answers["get after"] == "value ok"
    if mode == "persist":  # its journal keeps its blocks: writes that need no new page go on
        assert answers == {"get": "value ok", "overwrite": "ok", "new key": "ok",
                           "delete": "ok", "get after": "value ok"}
        values = stored(url)  # and the full directory opens again
        assert values["k2"] == b"v" and values["k3"] is None
        assert untouched(values, changed={"k2", "k3"})
        return
    # the journal (or the WAL) needs a new block for any write: refused, nothing changed
    assert {answers[call] for call in ("overwrite", "new key", "delete")} == {"internal"}
    if mode == "truncate":  # diskcache writes its settings on every open: refused too
        with pytest.raises(WasmcacheError, match="database or disk is full"):
            open_backend(url).close()  # `wasmcache run` prints this one line and exits 2
    # (WAL: the closing host deleted its WAL file, whose blocks let a reopen through)
    (tmpfs / "filler").unlink()  # space again: everything is there, writes work
    assert untouched(stored(url), changed=set())
    backend = open_backend(url)
    try:
        assert GuestSession(backend, "modes").set("k2", b"again", None) is None
    finally:
        backend.close()
