"""Faults: a server stopped and restarted under a running guest; a full and a read-only disk.

Server backends reuse the plugins' private-server helpers (a redis-server with append-only on,
`PrivatePostgres`, `PrivateMariadb`: free loopback ports, temporary directories, stopped
afterwards). The guest is examples/hostile_guest's ``pulse``: set + get of its own key every
50 ms, one line per call, until the key ``pulse-stop`` appears. Each server is stopped twice:
gracefully (SIGTERM / pg_ctl -m fast) and by a crash (SIGKILL / pg_ctl -m immediate).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from wasmcache import GuestSession, open_backend
from wasmcache.testing.hardening import report

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import plugin_helpers  # noqa: E402
from build import build_guest  # noqa: E402

WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
BACKEND_TIMEOUT = 1.0  # connect / socket timeout given in each URL
GUEST_TIMEOUT = 180.0  # --timeout of the guest run
MARGIN = 5.0  # a busy two-core machine; not part of the contract




@pytest.fixture(scope="session")
def hostile_guest() -> Path:
    return build_guest("hostile_guest")


# --- servers --------------------------------------------------------------------------------
class RedisServer:
    """`RedisProcess` with append-only on and fsync at every write, and a crash stop."""

    def __init__(self, directory: Path) -> None:
        self.proc = plugin_helpers.REDIS.RedisProcess(directory, "--appendonly", "yes",
                                               "--appendfsync", "always")
        self.url = (f"redis://127.0.0.1:{self.proc.port}/0?socket_connect_timeout="
                    f"{BACKEND_TIMEOUT}&socket_timeout={BACKEND_TIMEOUT}")

    def start(self) -> None:
        self.proc.start()

    def stop(self, crash: bool = False) -> None:
        if crash and self.proc.process is not None:
            self.proc.process.kill()
            self.proc.process.wait()
            self.proc.process = None
        self.proc.stop()

    def remove(self) -> None:
        self.stop()


class PostgresServer:
    def __init__(self) -> None:
        self.server = plugin_helpers.SQL_SERVERS.PrivatePostgres()
        self.url = f"{self.server.url}?connect_timeout={int(BACKEND_TIMEOUT)}"

    def start(self) -> None:
        self.server.start()

    def stop(self, crash: bool = False) -> None:
        if not crash:
            self.server.stop()
            return
        servers = plugin_helpers.SQL_SERVERS
        subprocess.run(servers.as_user("postgres", [
            str(servers.PG_BIN / "pg_ctl"), "-D", str(self.server.data), "-m", "immediate",
            "-w", "stop"]), check=True, capture_output=True)

    def remove(self) -> None:
        self.server.stop()
        self.server.remove()


class MariadbServer:
    def __init__(self) -> None:
        self.server = plugin_helpers.SQL_SERVERS.PrivateMariadb()
        self.url = f"{self.server.url}?connect_timeout={int(BACKEND_TIMEOUT)}"

    def start(self) -> None:
        self.server.start()

    def stop(self, crash: bool = False) -> None:
        if crash and self.server.process is not None:
            self.server.process.kill()
            self.server.process.wait()
            self.server.process = None
        self.server.stop()

    def remove(self) -> None:
        self.server.stop()
        self.server.remove()


class RedisClusterServer:
    """Three cluster masters with append-only on; stop and start take the whole cluster down
    and up again (same ports, same nodes.conf), the way a cluster-wide outage looks."""

    def __init__(self, directory: Path) -> None:
        self.nodes = []
        for _ in range(3):
            port = plugin_helpers.REDIS.free_port(bus=True)
            self.nodes.append(plugin_helpers.REDIS.RedisProcess(
                directory, "--cluster-enabled", "yes",
                "--cluster-config-file", str(directory / f"nodes-{port}.conf"),
                "--appendonly", "yes", "--appendfsync", "always", port=port))
        first, *others = (node.port for node in self.nodes)
        extra = "".join(f"&node=127.0.0.1:{port}" for port in others)
        self.url = (f"redis+cluster://127.0.0.1:{first}?socket_connect_timeout="
                    f"{BACKEND_TIMEOUT}&socket_timeout={BACKEND_TIMEOUT}{extra}")
        self.created = False

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        if not self.created:
            subprocess.run([str(plugin_helpers.REDIS.REDIS_CLI), "--cluster", "create",
                            *(f"127.0.0.1:{node.port}" for node in self.nodes),
                            "--cluster-replicas", "0", "--cluster-yes"],
                           check=True, capture_output=True, timeout=60)
            self.created = True
        deadline = time.monotonic() + 60
        for node in self.nodes:
            with redis.Redis(port=node.port, socket_timeout=2) as client:
                while b"cluster_state:ok" not in plugin_helpers.REDIS._cluster_info(client):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the fault-test cluster did not reach cluster_state:ok")
                    time.sleep(0.1)

    def stop(self, crash: bool = False) -> None:
        for node in self.nodes:
            if crash and node.process is not None:
                node.process.kill()
                node.process.wait()
                node.process = None
            node.stop()

    def remove(self) -> None:
        self.stop()


@pytest.fixture(scope="module", params=["redis", "redis-cluster", "postgresql", "mariadb"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    if request.param == "redis":
        made: RedisServer | RedisClusterServer | PostgresServer | MariadbServer = RedisServer(
            tmp_path_factory.mktemp("redis-fault"))
    elif request.param == "redis-cluster":
        made = RedisClusterServer(tmp_path_factory.mktemp("redis-cluster-fault"))
    elif request.param == "postgresql":
        made = PostgresServer()
    else:
        made = MariadbServer()
    try:
        made.start()
        yield made
    finally:
        made.remove()


def _lines(stream: object) -> queue.Queue[tuple[float, str | None]]:
    lines: queue.Queue[tuple[float, str | None]] = queue.Queue()

    def pump() -> None:
        try:
            for line in stream:  # type: ignore[attr-defined]
                lines.put((time.monotonic(), line.rstrip("\n")))
        except ValueError:  # communicate() closed the pipe: the guest has ended
            pass
        lines.put((time.monotonic(), None))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _until(lines: queue.Queue[tuple[float, str | None]], ending: str, seen: list[tuple[float,
           str]], count: int, timeout: float = 60) -> None:
    """Read lines until `count` consecutive call lines end with `ending`."""
    deadline, run = time.monotonic() + timeout, 0
    while run < count:
        try:
            at, line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {count} x {ending!r} in {timeout} s: {seen[-6:]}") from None
        if line is None:
            raise AssertionError(f"the guest ended before {count} x {ending!r}: {seen[-6:]}")
        seen.append((at, line))
        run = run + 1 if line.endswith(ending) else 0


@pytest.mark.slow
@pytest.mark.parametrize("crash", [False, True], ids=["graceful-stop", "crash"])
def test_server_stopped_under_a_running_guest(server, hostile_guest: Path, crash: bool,
                                              tmp_path: Path) -> None:
    namespace = f"t-{uuid.uuid4().hex[:16]}"
    env = {k: v for k, v in os.environ.items() if k != "WASMCACHE_BACKEND"}
    began = time.monotonic()
    guest = subprocess.Popen(
        [WASMCACHE, "run", "--backend", server.url, "--namespace", namespace,
         "--timeout", str(GUEST_TIMEOUT), str(hostile_guest), "pulse", "100000", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, env=env,
    )
    seen: list[tuple[float, str]] = []
    stopped_at = restarted_at = 0
    try:
        lines = _lines(guest.stdout)
        _until(lines, " ok", seen, count=6, timeout=120)
        server.stop(crash=crash)
        stopped_at = len(seen)
        _until(lines, " error unavailable", seen, count=4)
        server.start()
        restarted_at = len(seen)
        _until(lines, " ok", seen, count=6)
        backend = open_backend(server.url)
        try:
            assert GuestSession(backend, namespace).set("pulse-stop", b"1", None) is None
        finally:
            backend.close()
        _, stderr = guest.communicate(timeout=GUEST_TIMEOUT)
    finally:
        if guest.poll() is None:
            guest.kill()
            guest.wait()
    took = time.monotonic() - began
    calls = [line for _at, line in seen]
    assert guest.returncode == 0, stderr[-2000:]
    assert "Traceback" not in stderr
    assert took < GUEST_TIMEOUT
    assert not [line for line in calls if " wrong" in line], calls
    errors = {line.split(" error ")[1] for line in calls if " error " in line}
    assert errors <= {"unavailable", "not-found"}, errors
    # not-found only for a key whose own set was refused (the server was down for it)
    refused_sets = {line.split()[1] for line in calls
                    if line.startswith("set ") and " error " in line}
    misses = {line.split()[1] for line in calls if line.endswith(" error not-found")}
    assert misses <= refused_sets, (misses, refused_sets)
    # no call (plus the guest's 50 ms sleep) took longer than the backend's timeout + margin
    gaps = [b[0] - a[0] for a, b in zip(seen[stopped_at:restarted_at + 6],
                                        seen[stopped_at + 1:restarted_at + 6], strict=False)]
    assert max(gaps) < 2 * BACKEND_TIMEOUT + MARGIN, max(gaps)

    # every set answered ok before the stop is still there after the restart
    acked = [line.split()[1] for line in calls[:stopped_at]
             if line.startswith("set ") and line.endswith(" ok")]
    backend = open_backend(server.url)
    host = GuestSession(backend, namespace)
    try:
        lost = [key for key in acked
                if host.get(key) != f"value-{key.split('-')[1]}".encode()]
    finally:
        backend.close()
    unavailable = sum(1 for line in calls if line.endswith(" error unavailable"))
    report(f"{type(server).__name__} {'crash' if crash else 'graceful stop'}: "
                  f"{len(calls)} guest calls, {unavailable} unavailable, {len(acked)} acked "
                  f"writes before the stop, {len(lost)} lost, slowest gap {max(gaps):.2f} s")
    assert not lost, lost


# --- disk: full and read-only ---------------------------------------------------------------
FILL = textwrap.dedent("""
    import json, resource, signal, sys
    from wasmcache import GuestSession, open_backend
    directory, fsize = sys.argv[1], int(sys.argv[2])
    if fsize:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    backend = open_backend("disk://" + directory)
    host = GuestSession(backend, "fill")
    acked, errors = [], []
    for i in range(64):
        value = bytes([i]) * (1024 * 1024) if i % 2 else f"small-{i}".encode()
        result = host.set(f"k{i}", value, None)
        if result is None:
            acked.append(i)
        else:
            errors.append(str(result))
    for i in acked:  # reads still work on a full disk
        expected = bytes([i]) * (1024 * 1024) if i % 2 else f"small-{i}".encode()
        if host.get(f"k{i}") != expected:
            errors.append(f"read back k{i} wrong")
    backend.close()
    print(json.dumps({"acked": acked, "errors": errors}))
""")


def _expected(i: int) -> bytes:
    return bytes([i]) * (1024 * 1024) if i % 2 else f"small-{i}".encode()


def _intact(directory: Path, acked: list[int]) -> list[str]:
    """Reopen the directory in a fresh backend: every acked value whole, SQLite consistent."""
    import sqlite3

    problems = []
    backend = open_backend(f"disk://{directory}")
    host = GuestSession(backend, "fill")
    try:
        for i in acked:
            if host.get(f"k{i}") != _expected(i):
                problems.append(f"k{i}")
    finally:
        backend.close()
    with sqlite3.connect(directory / "cache.db") as conn:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if check != "ok":
        problems.append(f"integrity_check: {check}")
    return problems


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A 6 MiB tmpfs when we may mount one (root); else a 512 KiB RLIMIT_FSIZE in the child."""
    target = tmp_path / "small"
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(target)],
                          capture_output=True) if shutil.which("mount") else None
    if done is None or done.returncode != 0 or os.environ.get("WASMCACHE_TEST_NO_MOUNT"):
        if done is not None and done.returncode == 0:
            subprocess.run(["umount", str(target)], check=True)
        yield target, 512 * 1024
        return
    try:
        yield target, 0
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def test_full_disk_gives_internal_or_unavailable_and_keeps_data(
        small_filesystem: tuple[Path, int]) -> None:
    directory, fsize = small_filesystem
    done = subprocess.run([sys.executable, "-c", FILL, str(directory / "cache"), str(fsize)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    refused = [e for e in result["errors"] if e in ("internal", "unavailable")]
    other = [e for e in result["errors"] if e not in ("internal", "unavailable")]
    how = "RLIMIT_FSIZE" if fsize else "a 6 MiB tmpfs"
    report(f"disk full ({how}): {len(result['acked'])} sets acked, "
                  f"{len(refused)} refused as internal/unavailable, {len(other)} other")
    assert refused, "the disk never filled up"
    assert not other, other
    assert _intact(directory / "cache", result["acked"]) == []


FREEZE = textwrap.dedent("""
    import json, subprocess, sys
    from wasmcache import GuestSession, open_backend
    directory, step = sys.argv[1], sys.argv[2]
    def expected(i):
        return bytes([i]) * (1024 * 1024) if i % 2 else f"small-{i}".encode()
    backend = open_backend("disk://" + directory)
    host = GuestSession(backend, "fill")
    for i in range(6):
        assert host.set(f"k{i}", expected(i), None) is None
    subprocess.run(["chattr", "-R", "+i", directory], check=True)
    print("frozen", flush=True)
    calls = {"get": lambda: host.get("k1"), "set": lambda: host.set("new", b"v", None),
             "set-big": lambda: host.set("k7", expected(7), None),
             "delete": lambda: host.delete("k0")}
    def outcome(result):
        return (result if isinstance(result, str) or result is None
                else "value ok" if result == expected(1) else "value WRONG")
    result = calls[step]()
    after = host.get("k1")  # the host lives on and still reads the frozen directory
    print(json.dumps({"step": step, "result": outcome(result), "after": outcome(after)}),
          flush=True)
""")


@pytest.mark.parametrize("step", ["get", "set", "set-big", "delete"])
def test_read_only_directory_under_an_open_backend(tmp_path: Path, step: str) -> None:
    """chattr +i on every file and directory (root ignores modes) while a host has it open.

    Each call runs in a child host process, so a crash is seen as a crash, not the test's own.
    With diskcache's WAL the host died here of SIGBUS (SQLite's memory-mapped ``cache.db-shm``
    could not be written); wasmcache-disk's default rollback journal maps nothing writable.
    """
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("needs root and chattr: root ignores file modes, so only chattr +i makes a "
                    "directory read-only under a process that already has it open")
    directory = tmp_path / "cache"
    try:
        done = subprocess.run([sys.executable, "-c", FREEZE, str(directory), step],
                              capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["chattr", "-R", "-i", str(directory)], check=False)
    lines = done.stdout.strip().splitlines()
    answer = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    outcome = answer.get("result", f"host died (exit status {done.returncode})")
    report(f"disk read-only (chattr +i), {step}: {outcome}")
    assert _intact(directory, list(range(6))) == []
    assert done.returncode != -signal.SIGBUS, f"{step}: the host died of SIGBUS"
    assert done.returncode == 0, f"{outcome}: {done.stderr[-600:]}"
    if step == "get":  # reading a frozen directory may still work
        assert outcome in ("value ok", "internal", "unavailable"), outcome
    else:
        assert outcome in ("internal", "unavailable"), outcome
    assert answer["after"] in ("value ok", "internal", "unavailable"), answer["after"]
