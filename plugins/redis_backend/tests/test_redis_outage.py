"""Redis goes away and comes back while a host is calling it: `unavailable`, never a crash.

Each test starts its own redis-server (append-only, so data written before a stop is there
after the restart) on a free loopback port, and stops it at the end.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from wasmcache import open_backend

from .conftest import RedisProcess

HERE = Path(__file__).resolve().parent
TOUR = (HERE.parents[2] / "examples" / "hello_cache" / "expected_output.txt").read_text()
CONNECT_TIMEOUT = SOCKET_TIMEOUT = 1.0
MARGIN = 1.5  # scheduling on a busy two-core machine; not part of the contract


@pytest.fixture
def outage_server(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def url_of(server: RedisProcess) -> str:
    return (f"redis://127.0.0.1:{server.port}/0?socket_connect_timeout={CONNECT_TIMEOUT}"
            f"&socket_timeout={SOCKET_TIMEOUT}")


def _lines(stream: object) -> queue.Queue[str | None]:
    """A queue fed by a thread reading `stream` line by line (None at its end), so waits can
    have deadlines."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _until(lines: queue.Queue[str | None], label: str, seen: list[str], count: int = 1,
           timeout: float = 20) -> None:
    """Read lines until `count` consecutive ones end with `label`."""
    deadline, run = time.monotonic() + timeout, 0
    while run < count:
        try:
            line = lines.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no {count} x {label!r} within {timeout}s: {seen[-5:]}") from None
        if line is None:
            raise AssertionError(f"the process ended before {label!r}: {seen[-8:]}")
        seen.append(line)
        run = run + 1 if line.endswith(" " + label) else 0


def test_host_calls_see_unavailable_while_down_and_recover(outage_server: RedisProcess,
                                                           tmp_path: Path) -> None:
    """One host process keeps calling through stop, restart, a hung server and its recovery."""
    stop_file = tmp_path / "stop"
    caller = subprocess.Popen(
        [sys.executable, str(HERE / "outage_caller.py"), url_of(outage_server),
         f"t-{uuid.uuid4().hex[:16]}", str(stop_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    seen: list[str] = []
    try:
        lines = _lines(caller.stdout)
        _until(lines, "ok", seen, count=3)
        assert seen[0] == "set ok"

        outage_server.stop()  # refused: answers at once
        _until(lines, "unavailable", seen, count=3)
        outage_server.start()  # same port, same append-only file
        _until(lines, "ok", seen, count=3)

        outage_server.pause()  # accepts connections but never answers: the socket timeout
        _until(lines, "unavailable", seen, count=2)
        outage_server.resume()
        _until(lines, "ok", seen, count=3)
    finally:
        stop_file.touch()
        try:
            caller.wait(30)
        finally:
            if caller.poll() is None:
                caller.kill()
    stderr = caller.stderr.read() if caller.stderr else ""
    assert caller.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "wrong" not in " ".join(seen)
    calls = [line.split() for line in seen[1:]]
    assert {label for _t, _took, label in calls} == {"ok", "unavailable"}
    slowest = max(float(took) for _t, took, _label in calls)
    assert slowest <= CONNECT_TIMEOUT + SOCKET_TIMEOUT + MARGIN, seen


@pytest.mark.slow
def test_one_guest_run_through_stop_and_restart(outage_server: RedisProcess,
                                                hello_guest: Path) -> None:
    """The example guest's tour, Redis stopped before its 6th backend call, back before the 10th.

    Backend calls of the tour: 1 set greeting, 2 get greeting, 3 set unicode key, 4 get it,
    5 delete greeting, 6 get greeting, 7 delete never-set, 8 ttl 0 (a delete), 9 get
    ephemeral, 10 set session, 11 get session, 12 get visits, 13 set visits.
    """
    namespace = f"t-{uuid.uuid4().hex[:16]}"
    read_fd, write_fd = os.pipe()
    guest = subprocess.Popen(
        [sys.executable, str(HERE / "outage_guest.py"), str(hello_guest), url_of(outage_server),
         namespace, str(read_fd), "6", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, pass_fds=(read_fd,),
    )
    os.close(read_fd)
    control = os.fdopen(write_fd, "w")
    try:
        assert guest.stderr is not None
        waits = _lines(guest.stderr)
        stderr: list[str] = []
        _until(waits, "6", stderr, timeout=120)
        outage_server.stop()
        control.write("go\n")
        control.flush()
        _until(waits, "10", stderr, timeout=60)
        outage_server.start()
        control.write("go\n")
        control.flush()
        stdout, _ = guest.communicate(timeout=120)
    finally:
        control.close()
        if guest.poll() is None:
            guest.kill()
    assert guest.returncode == 0, stderr
    assert not any("Traceback" in line for line in stderr)
    expected = TOUR.splitlines()
    for index in range(5, 9):  # tour lines 6-9 ran while Redis was down
        expected[index] = expected[index].split(":")[0] + ": error unavailable"
    assert stdout.splitlines() == expected

    backend = open_backend(url_of(outage_server))
    try:  # written before the stop, kept by the append-only file; written after the restart
        assert backend.get(namespace, "caf\u00e9/\U0001F600".encode()) == bytes(range(8))
        assert backend.get(namespace, b"session") == b"token"
        assert backend.get(namespace, b"visits") == b"1"
    finally:
        backend.close()


@pytest.mark.slow
def test_cli_guest_gets_unavailable_in_time_then_its_value(outage_server: RedisProcess,
                                                           hello_guest: Path,
                                                           run_cli: object) -> None:
    """`wasmcache run GUEST get KEY` while Redis is down: rc 1, `error unavailable`, no hang."""
    url, namespace = url_of(outage_server), f"t-{uuid.uuid4().hex[:16]}"
    cli = ["run", "--backend", url, "--namespace", namespace, str(hello_guest)]

    began = time.monotonic()
    done = run_cli(*cli, "set", "kept", "before-stop")  # type: ignore[operator]
    with_redis = time.monotonic() - began
    assert (done.returncode, done.stdout) == (0, "set kept: ok\n"), done.stderr

    outage_server.stop()
    began = time.monotonic()
    down = run_cli(*cli, "get", "kept")  # type: ignore[operator]
    without_redis = time.monotonic() - began
    assert (down.returncode, down.stdout) == (1, "get kept: error unavailable\n"), down.stderr
    assert "Traceback" not in down.stderr
    # the guest's own start-up time plus at most one connect timeout (and a margin)
    assert without_redis <= with_redis + CONNECT_TIMEOUT + SOCKET_TIMEOUT + MARGIN + 3

    outage_server.start()
    back = run_cli(*cli, "get", "kept")  # type: ignore[operator]
    assert (back.returncode, back.stdout) == (0, "get kept: 'before-stop' (11 bytes)\n")
