"""What `wasmcache run` does at start: only what the run needs, and the same as click would.

A plain ``run`` line is parsed without click (wasmcache.console); these tests hold both parsers
to the same outcome, check what a run of a guest that uses nothing imports, and check when the
compile cache trusts a guest file without reading it (its source record).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from wasmcache import Guest, WasmcacheError
from wasmcache.compile_cache import RACY_SECONDS, recorded_artefact
from wasmcache.console import parse_run
from wasmcache.runner import ENGINE_KEY, load_guest, make_engine

WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
WatGuest = Callable[[str], Path]
CLICK_MAIN = "import sys; from wasmcache.cli import main; sys.argv[0] = 'wasmcache'; main()"


def _both(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], ...]:
    """The same command line through the console script and through click alone."""
    env = {k: v for k, v in os.environ.items() if k != "WASMCACHE_BACKEND"}
    return tuple(subprocess.run(command + args, cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=120)
                 for command in ([WASMCACHE], [sys.executable, "-c", CLICK_MAIN]))


@pytest.mark.parametrize("line", [
    ["run", "-b", "memory://", "{visits}"],
    ["-v", "run", "--backend=memory://", "--namespace", "n1", "{visits}", "extra", "--stats"],
    ["-vv", "run", "-b", "memory://", "--timeout", "30", "--max-memory", "64MiB", "{visits}"],
    ["run", "-bmemory://", "{visits}"],  # click's own short form: handed to click
    ["run", "-b", "memory://", "--", "{visits}"],
    ["run", "-b", "memory://", "--timeout", "0", "{visits}"],
    ["run", "-b", "memory://", "--timeout", "nan", "{visits}"],
    ["run", "-b", "memory://", "--timeout", "soon", "{visits}"],
    ["run", "-b", "memory://", "--config", ".", "{visits}"],
    ["run", "-b", "memory://", "--max-memory", "lots", "{visits}"],
    ["run", "-b", "memory://", "--unknown", "{visits}"],
    ["run", "-b"],
    ["run"],
    ["run", "--help"],
    ["--verbose", "run", "-b", "foo://x", "{visits}"],
    ["run", "-b", "memory://", "{missing}"],
    ["run", "-b", "memory://", "--stats=yes", "{visits}"],
])
def test_the_fast_parser_and_click_agree(line: list[str], wat_guest: WatGuest,
                                         tmp_path: Path) -> None:
    names = {"visits": str(wat_guest("visits")), "missing": str(tmp_path / "missing.wasm")}
    args = [arg.format(**names) for arg in line]
    fast, click = _both(args, tmp_path)
    assert (fast.returncode, fast.stdout, fast.stderr) == \
        (click.returncode, click.stdout, click.stderr)


def test_the_fast_parser_takes_plain_run_lines_only() -> None:
    request = parse_run(["-vv", "run", "-b", "memory://", "--timeout=2.5", "--stats", "g.wasm",
                         "-b", "x"])
    assert request is not None
    assert (request.verbose, request.backend, request.timeout, request.stats, request.guest,
            request.args) == (2, "memory://", 2.5, True, "g.wasm", ("-b", "x"))
    for other in (["--version"], ["backends"], ["run", "--help", "g.wasm"], ["run", "-b"],
                  ["config", "show"], ["run", "--timeout", "-1", "g.wasm"], []):
        assert parse_run(other) is None, other


NEEDLESS = ("click", "importlib.metadata", "pluggy", "platformdirs", "tomllib", "hashlib",
            "wasmcache.keyvalue.linker", "wasmcache.compose.nest", "wasmcache_disk",
            "wasmcache_redis", "wasmcache_sql", "diskcache")


def test_a_run_of_a_guest_that_uses_nothing_imports_nothing_it_does_not_need(
        wat_guest: WatGuest, tmp_path: Path) -> None:
    """The default backend (disk://) is not even opened for a guest without cache imports."""
    guest = tmp_path / "err.wasm"
    guest.write_bytes(wat_guest("err").read_bytes())
    _aged(guest)  # else it is hashed at every run (see the source records below)
    env = {k: v for k, v in os.environ.items() if k != "WASMCACHE_BACKEND"}
    subprocess.run([WASMCACHE, "run", str(guest)], cwd=tmp_path, env=env, check=False)  # warm
    done = subprocess.run([sys.executable, "-X", "importtime", WASMCACHE, "run", str(guest)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1  # the err guest
    imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "wasmcache.guest" in imported  # the check can see our modules
    assert sorted(imported.intersection(NEEDLESS)) == []
    assert not (tmp_path / ".wasmcache").exists()


# --- the compile cache's source records ---------------------------------------------------------
def _aged(path: Path) -> os.stat_result:
    """Make `path` look written long ago (a record is never trusted for a file just written)."""
    old = time.time() - 10 * RACY_SECONDS
    os.utime(path, (old, old))
    return path.stat()


def test_an_unchanged_guest_is_not_read_again(tmp_path: Path, wat_guest: WatGuest,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCACHE_COMPILE_CACHE", str(tmp_path / "compiled"))
    guest = tmp_path / "guest.wasm"
    guest.write_bytes(wat_guest("visits").read_bytes())
    before = _aged(guest)
    assert Guest(guest, "memory://", namespace="n1").run().stdout == b"visits: 1\n"
    # other bytes of the same size, written in place (same inode), mtime put back: trusted,
    # so the cached compilation runs although the file is no longer a component at all
    with open(guest, "r+b") as file:
        file.write(b"\0asm" + b"\xff" * (before.st_size - 4))
    os.utime(guest, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert Guest(guest, "memory://", namespace="n2").run().stdout == b"visits: 1\n"
    os.utime(guest, None)  # a new mtime: read and checked again
    with pytest.raises(WasmcacheError, match="not a valid component"):
        Guest(guest, "memory://")


def test_a_replaced_or_new_guest_is_hashed(tmp_path: Path, wat_guest: WatGuest) -> None:
    cache = tmp_path / "compiled"
    guest = tmp_path / "guest.wasm"
    guest.write_bytes(wat_guest("visits").read_bytes())
    engine = make_engine()
    load_guest(engine, guest, cache)
    assert recorded_artefact(cache, guest, _key()) is None  # just written: racy, not recorded
    stat = _aged(guest)
    load_guest(engine, guest, cache)
    assert recorded_artefact(cache, guest, _key()) is not None
    replacement = tmp_path / "replacement.wasm"  # same bytes, size and mtime; another inode
    replacement.write_bytes(guest.read_bytes())
    os.utime(replacement, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(replacement, guest)
    assert recorded_artefact(cache, guest, _key()) is None


def _key() -> str:
    from wasmcache.compose import ADAPTER_VERSION

    return f"{ENGINE_KEY}-adapter{ADAPTER_VERSION}"
