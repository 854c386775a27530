"""The C guest (examples/hello_cache_c: clang, wasi-libc, jco) on every backend, via the CLI.

It must print exactly what the Python guest prints: the tour's expected_output.txt (a second
tour in the same namespace counts `visits: 2`), the same line and exit status for each
command, also for values that need repr()'s escapes; and the two guests share keys when they
share a namespace. Toolchain and servers: scripts/ensure-services.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import guest_cli
import pytest
import wasmtime
from build import build_c_component
from guest_cli import BACKENDS, TOUR_OUTPUT, RunCli
from wasmcache import open_backend
from wasmcache.testing.contract import unique_namespace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def c_guest() -> Path:
    """examples/hello_cache_c built with clang and jco (cached outside git)."""
    return build_c_component("hello_cache_c")


@pytest.fixture
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of the backend named by the test's parameter, with its own table/prefix/dir."""
    yield from guest_cli.backend_url(request, tmp_path)


@pytest.mark.parametrize("backend_url", BACKENDS, indirect=True)
def test_the_c_tour_prints_the_expected_output(backend_url: str, c_guest: Path,
                                               run_cli: RunCli) -> None:
    namespace = unique_namespace()
    done = run_cli("run", "--backend", backend_url, "--namespace", namespace, str(c_guest))
    assert (done.returncode, done.stdout, done.stderr) == (0, TOUR_OUTPUT, "")
    if backend_url != "memory://":  # memory lives as long as one run
        again = run_cli("run", "--backend", backend_url, "--namespace", namespace, str(c_guest))
        assert (again.returncode, again.stdout) == (
            0, TOUR_OUTPUT.replace("visits: 1", "visits: 2")), again.stderr


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_c_guest_commands(backend_url: str, c_guest: Path, run_cli: RunCli) -> None:
    """set / get / delete KEY: the Python guest's lines and exit statuses."""
    namespace = unique_namespace()

    def run(*args: str) -> tuple[int, str]:
        done = run_cli("run", "--backend", backend_url, "--namespace", namespace, str(c_guest),
                       *args)
        return done.returncode, done.stdout

    assert run("get", "k") == (1, "get k: error not-found\n")
    assert run("set", "k", "v 1, caf\u00e9") == (0, "set k: ok\n")
    assert run("get", "k") == (0, "get k: 'v 1, caf\u00e9' (10 bytes)\n")
    assert run("set", "k", "", "3600") == (0, "set k: ok\n")
    assert run("get", "k") == (0, "get k: '' (0 bytes)\n")
    assert run("set", "k", "gone", "0") == (0, "set k: ok\n")
    assert run("get", "k") == (1, "get k: error not-found\n")
    assert run("delete", "k") == (0, "delete k: ok\n")
    assert run("set", "k" * 251, "x") == (1, f"set {'k' * 251}: error invalid-key\n")
    assert run("get", "visits") == (1, "get visits: error not-found\n")


@pytest.mark.parametrize("args, message", [
    (["get"], "usage: hello_cache [set KEY VALUE [TTL] | get KEY | delete KEY]"),
    (["bogus", "k"], "unknown command 'bogus': use set, get or delete"),
    (["set", "k"], "set needs a VALUE: set KEY VALUE [TTL]"),
    (["set", "k", "v", "soon"], "invalid literal for int() with base 10: 'soon'"),
    (["set", "k", "v", "-1"], "TTL -1 is outside 0..4294967295"),
    (["set", "k", "v", "4294967296"], "TTL 4294967296 is outside 0..4294967295"),
])
def test_bad_command_lines_say_why_on_stderr(args: list[str], message: str, c_guest: Path,
                                             run_cli: RunCli) -> None:
    """Where the Python guest traps (no VALUE, a bad TTL) the C guest says why, exit 1."""
    done = run_cli("run", "--backend", "memory://", str(c_guest), *args)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", message + "\n")


@pytest.mark.parametrize("ttl", ["3600", " +3_600 ", "4294967295"])
def test_ttl_is_read_as_python_reads_an_int(ttl: str, c_guest: Path, run_cli: RunCli) -> None:
    done = run_cli("run", "--backend", "memory://", str(c_guest), "set", "k", "v", ttl)
    assert (done.returncode, done.stdout) == (0, "set k: ok\n"), done.stderr


@pytest.mark.parametrize("backend_url", [b for b in BACKENDS if b != "memory"], indirect=True)
def test_python_and_c_guests_share_a_namespace(backend_url: str, c_guest: Path,
                                               hello_guest: Path, run_cli: RunCli) -> None:
    """Each reads what the other wrote, and both see the other's delete and visits count."""
    namespace = unique_namespace()

    def run(guest: Path, *args: str) -> tuple[int, str]:
        done = run_cli("run", "--backend", backend_url, "--namespace", namespace, str(guest),
                       *args)
        return done.returncode, done.stdout

    assert run(hello_guest, "set", "shared", "written by python") == (0, "set shared: ok\n")
    assert run(c_guest, "get", "shared") == (0, "get shared: 'written by python' (17 bytes)\n")
    assert run(c_guest, "set", "back", "written by C, caf\u00e9", "3600") == (0, "set back: ok\n")
    assert run(hello_guest, "get", "back") \
        == (0, "get back: 'written by C, caf\u00e9' (19 bytes)\n")
    assert run(c_guest, "delete", "shared") == (0, "delete shared: ok\n")
    assert run(hello_guest, "get", "shared") == (1, "get shared: error not-found\n")
    assert run(hello_guest, "delete", "back") == (0, "delete back: ok\n")
    assert run(c_guest, "get", "back") == (1, "get back: error not-found\n")
    assert run(hello_guest, "set", "visits", "41") == (0, "set visits: ok\n")
    assert run(c_guest)[1].endswith("visits: 42\n")
    assert run(hello_guest)[1].endswith("visits: 43\n")


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_both_guests_print_every_value_alike(backend_url: str, c_guest: Path,
                                             hello_guest: Path, run_cli: RunCli) -> None:
    """The same line for values written straight into the backend, and for the errors."""
    guest_cli.assert_prints_every_value_alike(backend_url, c_guest, hello_guest, run_cli)


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_a_visits_value_that_is_not_a_count_is_reported(backend_url: str, c_guest: Path,
                                                        run_cli: RunCli) -> None:
    namespace = unique_namespace()
    backend = open_backend(backend_url)
    try:
        backend.set(namespace, b"visits", b"many", None)
    finally:
        backend.close()
    done = run_cli("run", "--backend", backend_url, "--namespace", namespace, str(c_guest))
    assert done.returncode == 1
    assert done.stdout == TOUR_OUTPUT.split("set visits")[0]
    assert done.stderr == ("hello_cache: the value under \"visits\" is not a count: "
                           "invalid literal for int() with base 10: 'many'\n")


def test_the_c_guest_is_small_and_imports_only_the_cache_and_wasi(c_guest: Path) -> None:
    """Tens of KB (the Python guest is 18 MB): the cache, WASI 0.2 and wasi:cli/run only."""
    assert c_guest.stat().st_size < 150_000
    engine = wasmtime.Engine()
    component_type = wasmtime.component.Component.from_file(engine, c_guest).type
    imports = set(component_type.imports(engine))
    assert "wasmcache:cache/cache@0.1.0" in imports
    assert all(name.startswith("wasi:") for name in imports - {"wasmcache:cache/cache@0.1.0"})
    assert [name.split("@")[0] for name in component_type.exports(engine)] == ["wasi:cli/run"]
