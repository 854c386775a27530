"""What `wasmcache run` does at start: only what the run needs.

The command line is argparse; these tests pin how it reads a `run` line (where the guest's own
argv starts, `--`, short forms, bad values as one line), check what a run of a guest that uses
nothing imports, and check when the compile cache trusts a guest file without reading it (its
source record).
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
from wasmcache.runner import ENGINE_KEY, load_guest, make_engine
from wasmcache.testing.cli import invoke

WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
WatGuest = Callable[[str], Path]


@pytest.mark.parametrize(("line", "guest_argv"), [
    (["run", "-b", "memory://", "g.wasm", "a", "-b", "x", "--stats"], ["a", "-b", "x", "--stats"]),
    (["-v", "run", "--backend=memory://", "--namespace", "n1", "g.wasm", "extra"], ["extra"]),
    (["run", "-bmemory://", "--stats", "g.wasm"], []),
    (["run", "-b", "memory://", "--", "g.wasm", "--", "y"], ["--", "y"]),
    (["run", "--", "-g.wasm"], []),
])
def test_everything_after_the_guest_is_its_own(line: list[str], guest_argv: list[str]) -> None:
    from wasmcache.cli import build_parser, guest_and_argv

    flags = build_parser().parse_args(line)
    assert guest_and_argv(flags)[1] == guest_argv


@pytest.mark.parametrize(("line", "code", "words"), [
    (["run", "-b", "memory://", "{echo}", "a", "-b", "x", "--stats"], 0, ""),
    (["run", "-bmemory://", "{echo}"], 0, ""),
    (["run", "-b", "memory://", "--timeout", "0", "{echo}"], 2,
     "argument --timeout: expected a positive number of seconds, got 0.0"),
    (["run", "-b", "memory://", "--timeout", "nan", "{echo}"], 2, "got nan"),
    (["run", "-b", "memory://", "--timeout", "soon", "{echo}"], 2,
     "'soon' is not a number of seconds"),
    (["run", "-b", "memory://", "--config", ".", "{echo}"], 2, "is a directory, not a file"),
    (["run", "-b", "memory://", "--max-memory", "lots", "{echo}"], 2, "invalid size 'lots'"),
    (["run", "-b", "memory://", "--unknown", "{echo}"], 2, "unrecognized arguments: --unknown"),
    (["run", "--back", "memory://", "{echo}"], 2, "unrecognized arguments: --back"),
    (["run", "-b"], 2, "argument -b/--backend: expected one argument"),
    (["run"], 2, "the following arguments are required: GUEST.wasm"),
    (["run", "-b", "memory://", "--"], 2, "the following arguments are required: GUEST.wasm"),
    (["run", "-b", "memory://", "--stats=yes", "{echo}"], 2, "argument --stats"),
    (["--verbose", "run", "-b", "foo://x", "{echo}"], 2, "unknown backend scheme 'foo'"),
    (["run", "-b", "memory://", "{missing}"], 2, "cannot read guest"),
])
def test_how_a_run_line_is_read(line: list[str], code: int, words: str, wat_guest: WatGuest,
                                tmp_path: Path) -> None:
    """A good line runs the guest; a mistake is one line, exit 2, and names where help is."""
    names = {"echo": str(wat_guest("echo")), "missing": str(tmp_path / "missing.wasm")}
    args = [arg.format(**names) for arg in line]
    result = invoke(args, env={"WASMCACHE_BACKEND": None})
    assert result.exception is None, result.exception
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("wasmcache: error:")]
    if code == 2:
        assert len(errors) == 1 and words in errors[0], result.stderr
        assert result.stderr.splitlines()[-1] == errors[0]
    else:
        assert errors == []


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
