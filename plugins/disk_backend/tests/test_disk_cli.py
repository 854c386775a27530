"""``disk://`` through the real ``wasmcache`` CLI: listing, the tour, persistence, errors."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from wasmcache import GuestSession, open_backend

from ._support import read_only_directory

RunCli = Callable[..., CompletedProcess[str]]
ROOT = Path(__file__).resolve().parents[3]
TOUR_OUTPUT = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()
WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
sys.path.insert(0, str(ROOT / "examples"))

from build import build_guest  # noqa: E402

pytestmark = pytest.mark.slow


def namespace() -> str:
    return f"disk-{uuid.uuid4().hex[:12]}"


def ok(done: CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def test_backends_lists_disk_with_its_distribution_and_version(run_cli: RunCli) -> None:
    rows = [line.split() for line in ok(run_cli("backends")).splitlines()]
    disk = [row for row in rows if row and row[0] == "disk://"]
    assert len(disk) == 1
    assert disk[0][1:3] == ["wasmcache-disk", importlib.metadata.version("wasmcache-disk")]
    assert disk[0][2] == "0.1.0"


def test_the_tour_on_disk(run_cli: RunCli, hello_guest: Path, tmp_path: Path) -> None:
    done = run_cli("run", "--backend", f"disk://{tmp_path / 'store'}", "--namespace",
                   namespace(), str(hello_guest))
    assert ok(done) == TOUR_OUTPUT
    assert (tmp_path / "store" / "cache.db").is_file()


def test_a_value_survives_the_process(run_cli: RunCli, hello_guest: Path,
                                      tmp_path: Path) -> None:
    url, ns = f"disk://{tmp_path / 'store'}?shards=2", namespace()
    assert ok(run_cli("run", "--backend", url, "--namespace", ns, str(hello_guest),
                      "set", "k", "persisted")) == "set k: ok\n"
    assert ok(run_cli("run", "--backend", url, "--namespace", ns, str(hello_guest),
                      "get", "k")) == "get k: 'persisted' (9 bytes)\n"
    other = run_cli("run", "--backend", url, "--namespace", namespace(), str(hello_guest),
                    "get", "k")
    assert (other.returncode, other.stdout) == (1, "get k: error not-found\n")


def test_the_default_backend_is_dot_wasmcache(run_cli: RunCli, hello_guest: Path,
                                              tmp_path: Path) -> None:
    cwd = tmp_path / "project"
    cwd.mkdir()
    ns = namespace()
    assert ok(run_cli("run", "--namespace", ns, str(hello_guest), "set", "k", "first run",
                      cwd=cwd)) == "set k: ok\n"
    assert (cwd / ".wasmcache" / "cache.db").is_file()
    assert ok(run_cli("run", "--namespace", ns, str(hello_guest), "get", "k",
                      cwd=cwd)) == "get k: 'first run' (9 bytes)\n"


def test_a_ttl_is_gone_in_a_later_process(run_cli: RunCli, hello_guest: Path,
                                          tmp_path: Path) -> None:
    url, ns = f"disk://{tmp_path / 'store'}", namespace()
    written = time.monotonic()
    assert ok(run_cli("run", "--backend", url, "--namespace", ns, str(hello_guest),
                      "set", "k", "v", "1")) == "set k: ok\n"
    time.sleep(max(0.0, 2.2 - (time.monotonic() - written)))
    later = run_cli("run", "--backend", url, "--namespace", ns, str(hello_guest), "get", "k")
    assert (later.returncode, later.stdout) == (1, "get k: error not-found\n")


def assert_one_line_error(done: CompletedProcess[str], *parts: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("wasmcache: error: ")
    for part in parts:
        assert part in lines[0]


def test_a_file_in_the_way_fails_at_start(run_cli: RunCli, hello_guest: Path,
                                          tmp_path: Path) -> None:
    (tmp_path / "file").write_text("in the way")
    done = run_cli("run", "--backend", "disk://file", str(hello_guest))
    assert_one_line_error(done, str(tmp_path / "file"), "file is in the way")
    done = run_cli("run", "--backend", "disk://file/cache", str(hello_guest))
    assert_one_line_error(done, "cannot create directory", "is a file")


def test_a_file_named_dot_wasmcache_breaks_the_default_at_start(run_cli: RunCli,
                                                                hello_guest: Path,
                                                                tmp_path: Path) -> None:
    (tmp_path / ".wasmcache").write_text("in the way")
    assert_one_line_error(run_cli("run", str(hello_guest)), ".wasmcache", "file is in the way")


def test_a_read_only_directory_fails_at_start(run_cli: RunCli, hello_guest: Path,
                                              tmp_path: Path) -> None:
    with read_only_directory(tmp_path / "ro") as ro:
        done = run_cli("run", "--backend", f"disk://{ro}", str(hello_guest))
        assert_one_line_error(done, str(ro), "not writable")


def test_a_bad_option_fails_at_start(run_cli: RunCli, hello_guest: Path) -> None:
    done = run_cli("run", "--backend", "disk://store?shards=many", str(hello_guest))
    assert_one_line_error(done, "shards", "integer", "'many'")


@pytest.fixture(scope="module")
def hostile_guest() -> Path:
    """examples/hostile_guest: its ``pulse`` command sets, then gets, key after key."""
    return build_guest("hostile_guest")


PULSE_ROUNDS = 500  # a set, a get of it and a miss per round: seconds when both write at once


def _timed_lines(proc: subprocess.Popen[str], lines: list[tuple[float, str]]) -> threading.Thread:
    """Read `proc`'s stdout into `lines` as (monotonic time, line), in a thread."""
    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic(), line.rstrip("\n")))

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def test_two_runs_writing_the_default_store_at_once_lose_nothing(hostile_guest: Path,
                                                                 tmp_path: Path) -> None:
    """Two `wasmcache run`s with no --backend, in one project, write ./.wasmcache together."""
    cwd = tmp_path / "project"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "WASMCACHE_BACKEND"}
    runs = {}
    for ns in (namespace(), namespace()):
        proc = subprocess.Popen([WASMCACHE, "run", "--namespace", ns, str(hostile_guest),
                                 "pulse", str(PULSE_ROUNDS), "0"], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[tuple[float, str]] = []
        runs[ns] = (proc, lines, _timed_lines(proc, lines))
    try:
        for ns, (proc, _lines, pump) in runs.items():
            assert proc.stderr is not None
            stderr = proc.stderr.read()
            assert proc.wait(timeout=300) == 0, (ns, stderr[-2000:])
            assert "Traceback" not in stderr
            pump.join(timeout=10)
    finally:
        for proc, _lines, _pump in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    sets = {ns: [(at, line) for at, line in lines if line.startswith("set ")]
            for ns, (_proc, lines, _pump) in runs.items()}
    assert max(s[0][0] for s in sets.values()) < min(s[-1][0] for s in sets.values()), \
        "the two runs did not write at the same time"
    backend = open_backend(f"disk://{cwd / '.wasmcache'}")
    try:
        for ns, (_proc, lines, _pump) in runs.items():
            calls = [line for _at, line in lines]
            assert calls[-1] == f"done {PULSE_ROUNDS} rounds", calls[-3:]
            acked = [line.split()[1] for line in calls
                     if line.startswith("set ") and line.endswith(" ok")]
            # a set that waited `timeout` for the other writer's lock answers unavailable
            # (stored nothing: the guest may retry); nothing else may go wrong
            refused = [line for line in calls if line.startswith("set ") and " ok" not in line]
            assert all(line.endswith(" error unavailable") for line in refused), refused[:5]
            assert len(refused) <= PULSE_ROUNDS // 100, len(refused)
            assert not [line for line in calls if " wrong" in line]
            host = GuestSession(backend, ns)
            lost = [key for key in acked
                    if host.get(key) != f"value-{key.split('-')[1]}".encode()]
            assert len(acked) + len(refused) == PULSE_ROUNDS
            assert lost == [], lost[:5]
            took = sets[ns][-1][0] - sets[ns][0][0]
            print(f"{ns}: {len(acked)} sets acked, {len(refused)} unavailable, {took:.1f} s")
    finally:
        backend.close()
