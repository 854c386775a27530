"""`wasmcache.Guest`: one guest loaded, linked and connected once, run many times.

Each run is a fresh instance (tests/guests/visits.wat returns err when it finds an earlier
run's memory), captures its own stdout and stderr, gets stdin and environment only when given
(tests/guests/echo.wat), and may run in several threads at once, each with its own timeout.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from wasmcache import (
    Guest,
    GuestSession,
    GuestTimeout,
    GuestTrap,
    KeyValueHost,
    RunResult,
    WasmcacheError,
    add_keyvalue_to_linker,
    add_to_linker,
    open_backend,
)
from wasmcache.backends.memory import MemoryBackend
from wasmcache.keyvalue.linker import run_scope
from wasmcache.runner import load_guest, make_engine
from wasmcache.testing.contract import unique_namespace
from wasmtime import Store, WasiConfig
from wasmtime.component import Component, Linker

EXPECTED = (Path(__file__).parents[1] / "examples/hello_cache/expected_output.txt").read_bytes()
WatGuest = Callable[[str], Path]


def test_every_run_is_a_fresh_instance_and_cache_entries_stay(wat_guest: WatGuest,
                                                               wasmcache_memory_url: str) -> None:
    namespace = unique_namespace()
    with Guest(wat_guest("visits"), wasmcache_memory_url, namespace=namespace) as guest:
        results = [guest.run() for _ in range(5)]
    # status 0: the guest's own run counter was 1 each time (err if it saw an earlier run)
    assert results == [RunResult(0, f"visits: {n}\n".encode(), b"") for n in range(1, 6)]
    assert GuestSession(open_backend(wasmcache_memory_url), namespace).get("visits") == b"\x05"


def _instance_runner(component_path: Path, link: Callable[[Linker], None],
                     wrapped: bool = True) -> Callable[[], Callable[[], object]]:
    """Instances of a command guest made by hand; each call of the result makes one and
    returns its run function (called as often as a test likes). `wrapped` False loads the
    guest without the adapters (its imports served directly, as for a guest they cannot
    wrap)."""
    engine = make_engine()
    component = (load_guest(engine, component_path) if wrapped
                 else Component.from_file(engine, str(component_path)))
    linker = Linker(engine)
    linker.add_wasip2()
    link(linker)
    index = component.get_export_index("run", component.get_export_index("wasi:cli/run@0.2.0"))

    def instance() -> Callable[[], object]:
        store = Store(engine)
        store.set_epoch_deadline(2**62)
        store.set_wasi(WasiConfig())
        run = linker.instantiate(store, component).get_func(store, index)
        assert run is not None

        def call() -> object:
            result = run(store)
            run.post_return(store)
            return result.tag  # type: ignore[attr-defined]

        return call

    return instance


def test_one_instance_run_twice_shows_the_earlier_run(wat_guest: WatGuest) -> None:
    """What the isolation test above would see without a fresh instance per run: the guest's
    second run in one instance answers err."""
    new_instance = _instance_runner(wat_guest("visits"), lambda linker: add_to_linker(
        linker, GuestSession(MemoryBackend(), "twice"), keyvalue=False))
    run = new_instance()
    assert [run(), run()] == ["ok", "err"]
    assert new_instance()() == "ok"


def test_a_run_scope_releases_the_keyvalue_handles_a_run_left_open(
        wasmcache_memory_url: str) -> None:
    """Wasmtime drops a store without calling host destructors; a linker serving many runs
    would keep every bucket they opened. `run_scope` releases them when the run ends (here the
    resource linker that serves a guest left unwrapped)."""
    from conftest import build_guest

    backend = open_backend(wasmcache_memory_url)
    namespace = unique_namespace()
    tables = []

    def link(linker: Linker) -> None:
        session = GuestSession(backend, namespace)
        add_to_linker(linker, session, keyvalue=False)
        tables.extend(add_keyvalue_to_linker(linker, KeyValueHost(session)))

    new_instance = _instance_runner(build_guest("keyvalue_guest", world="keyvalue-command"),
                                    link, wrapped=False)
    new_instance()()
    left = [len(table) for table in tables]
    assert left[0] >= 1  # the tour leaves buckets open
    for _ in range(3):
        with run_scope():
            new_instance()()
        assert [len(table) for table in tables] == left


def test_output_is_captured_per_run(hello_guest: Path, wasmcache_memory_url: str,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    with Guest(hello_guest, wasmcache_memory_url, namespace=unique_namespace()) as guest:
        tour = guest.run()
        usage = guest.run(["bogus"])
        missing = guest.run(["get", "nothing-here"])
    assert tour == RunResult(0, EXPECTED, b"")
    assert usage.status == 1 and usage.stdout == b""
    assert b"usage: hello_cache" in usage.stderr
    assert missing == RunResult(1, b"get nothing-here: error not-found\n", b"")
    assert capfd.readouterr() == ("", "")  # nothing reached the process's own stdio


def test_stdin_and_environment_only_when_given(wat_guest: WatGuest,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCACHE_TEST_SECRET", "host-only")
    data = bytes(range(256)) * 100  # several 4 KiB reads and writes
    with Guest(wat_guest("echo"), "memory://") as guest:
        assert guest.run() == RunResult(0, b"", b"")  # no host environment, empty stdin
        given = guest.run(stdin=data, env={"NAME": "value", "EMPTY": "", "EQ": "a=b"})
    assert given == RunResult(0, data, b"NAME=value\nEMPTY=\nEQ=a=b\n")


def test_output_files_are_closed_and_the_callback_fallback_captures_too(
        wat_guest: WatGuest, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Linux output goes through in-memory files (none left open after a run); elsewhere
    wasmtime's output callbacks collect it, with the same result."""
    from wasmcache.guest import _Output

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0

    data = b"through the fallback\n" * 500
    with Guest(wat_guest("echo"), "memory://") as guest:
        guest.run(stdin=b"warm")
        before = open_files()
        results = [guest.run(stdin=data, env={"N": str(i)}) for i in range(20)]
        assert open_files() == before
        monkeypatch.setattr(_Output, "_files_work", False)
        fallback = guest.run(stdin=data, env={"N": "0"})
    assert results[0] == fallback == RunResult(0, data, b"N=0\n")


def test_inherited_stdio_is_the_processs_own(wat_guest: WatGuest,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    with Guest(wat_guest("visits"), "memory://", namespace=unique_namespace()) as guest:
        result = guest.run(inherit_stdio=True)
        with pytest.raises(ValueError, match="stdin"):
            guest.run(stdin=b"x", inherit_stdio=True)
    assert result == RunResult(0, None, None)
    assert capfd.readouterr().out == "visits: 1\n"


def test_args_and_defaults_from_the_options(hello_guest: Path, wasmcache_memory_url: str) -> None:
    from wasmcache import GuestOptions

    options = GuestOptions(namespace=unique_namespace(), args=["get", "k"])
    with Guest(hello_guest, wasmcache_memory_url, options) as guest:
        assert guest.run().stdout == b"get k: error not-found\n"
        assert guest.run(["set", "k", "v"]).stdout == b"set k: ok\n"
        assert guest.run().stdout == b"get k: 'v' (1 bytes)\n"


def _tasks(hello: Guest, echo: Guest) -> list[Callable[[], RunResult]]:
    """Work whose results do not depend on the order of runs: each key is one task's own."""
    tasks: list[Callable[[], RunResult]] = []
    for i in range(12):
        def cache_task(i: int = i) -> RunResult:
            wrote = hello.run(["set", f"key-{i}", f"value {i} " * i])
            read = hello.run(["get", f"key-{i}"])
            return RunResult(wrote.status + read.status, wrote.stdout + read.stdout,
                             wrote.stderr + read.stderr)

        def echo_task(i: int = i) -> RunResult:
            return echo.run(stdin=f"stdin of task {i}\n".encode() * (i + 1),
                            env={"TASK": str(i)})

        tasks += [cache_task, echo_task]
    return tasks


def test_runs_from_8_threads_give_the_serial_results(hello_guest: Path, wat_guest: WatGuest,
                                                     wasmcache_memory_url: str) -> None:
    def results(parallel: bool) -> list[RunResult]:
        with Guest(hello_guest, wasmcache_memory_url, namespace=unique_namespace()) as hello, \
                Guest(wat_guest("echo"), wasmcache_memory_url) as echo:
            tasks = _tasks(hello, echo)
            if not parallel:
                return [task() for task in tasks]
            with ThreadPoolExecutor(8) as pool:
                return list(pool.map(lambda task: task(), tasks))

    serial = results(parallel=False)
    assert all(r.status == 0 for r in serial)
    assert serial[0].stdout == b"set key-0: ok\nget key-0: '' (0 bytes)\n"
    assert results(parallel=True) == serial


def test_a_timeout_stops_its_own_run_only(hello_guest: Path, wat_guest: WatGuest,
                                          wasmcache_memory_url: str) -> None:
    """Two looping runs with their own timeouts stop in turn while other runs, with a long
    timeout or none, go on (a shared engine: one run's deadline must not end another's)."""
    loop = Guest(wat_guest("loop"), "memory://")
    stopped: dict[float, tuple[float, str]] = {}

    def looping(timeout: float) -> None:
        start = time.monotonic()
        with pytest.raises(GuestTimeout) as info:
            loop.run(timeout=timeout)
        stopped[timeout] = (time.monotonic() - start, str(info.value))

    threads = [threading.Thread(target=looping, args=(t,)) for t in (0.5, 1.5)]
    for thread in threads:
        thread.start()
    normal = []
    with Guest(hello_guest, wasmcache_memory_url, namespace=unique_namespace()) as hello:
        while any(thread.is_alive() for thread in threads):
            normal.append(hello.run(["get", "k"], timeout=60 if len(normal) % 2 else None))
    for thread in threads:
        thread.join()
    assert normal and all(r.stdout == b"get k: error not-found\n" for r in normal)
    assert set(stopped) == {0.5, 1.5}
    for timeout, (elapsed, message) in stopped.items():
        assert elapsed >= timeout, (timeout, elapsed)  # never before its own deadline
        assert message == f"guest stopped: it ran longer than its timeout of {timeout:g} s"
    assert stopped[0.5][0] < stopped[1.5][0]


def test_traps_and_memory_caps_raise_the_run_guest_exceptions(wat_guest: WatGuest,
                                                              hostile_guest: Path) -> None:
    with Guest(wat_guest("trap"), "memory://") as guest, pytest.raises(GuestTrap) as trap:
        guest.run()
    assert str(trap.value) == "guest trapped: wasm trap: wasm `unreachable` instruction executed"
    capped = Guest(hostile_guest, "memory://", max_memory=100 * 2**20)
    assert capped.run(["allocate", "10"]) == RunResult(0, b"allocated 10 MiB\n", b"")
    with pytest.raises(GuestTrap) as over:
        capped.run(["allocate", "200"])
    assert "capped at 100 MiB by --max-memory" in str(over.value)
    assert b"MemoryError" in over.value.stderr  # what the guest wrote before it trapped
    assert not isinstance(over.value, GuestTimeout)


def test_bad_guests_fail_when_made_with_one_line(tmp_path: Path, wat_guest: WatGuest) -> None:
    for guest, message in [(tmp_path / "missing.wasm", "cannot read guest"),
                           (wat_guest("no_run"), "does not export wasi:cli/run")]:
        with pytest.raises(WasmcacheError, match=message):
            Guest(guest, "memory://")
    with pytest.raises(WasmcacheError, match="unknown backend scheme 'foo'"):
        Guest(wat_guest("err"), "foo://x")
    unknown = Guest(wat_guest("unknown_import"), "memory://")
    with pytest.raises(WasmcacheError, match="imports acme:missing/thing@1.0.0"):
        unknown.run()


def test_a_backend_is_opened_only_for_a_guest_that_imports_it(wat_guest: WatGuest) -> None:
    """A guest that uses neither the cache nor wasi:keyvalue never connects (no server runs on
    port 1), yet its URL's scheme is checked."""
    with Guest(wat_guest("err"), "redis://127.0.0.1:1/0") as guest:
        assert guest.backend is None
        assert guest.run().status == 1  # the err guest
    with pytest.raises(WasmcacheError, match="invalid backend URL"):
        Guest(wat_guest("err"), "nonsense")


def test_close_closes_only_a_backend_the_guest_opened(wat_guest: WatGuest) -> None:
    closed: list[str] = []

    def recording(backend: object, name: str) -> None:
        original = backend.close  # type: ignore[attr-defined]
        backend.close = lambda: (closed.append(name), original())  # type: ignore[attr-defined]

    with Guest(wat_guest("visits"), "memory://", namespace=unique_namespace()) as owned:
        recording(owned.backend, "opened from its URL")
        assert owned.run().status == 0
    mine = MemoryBackend()
    recording(mine, "handed in")
    given = Guest(wat_guest("visits"), mine, namespace=unique_namespace())
    given.close()
    given.close()  # twice is harmless
    assert closed == ["opened from its URL"]
    for guest in (owned, given):
        with pytest.raises(WasmcacheError, match="already closed"):
            guest.run()
