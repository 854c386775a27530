"""The JavaScript guest (examples/hello_cache_js, jco componentize) on every backend.

It must print exactly what the Python guest prints: the tour's expected_output.txt, and the
same line and exit status for each command, also for values that need repr()'s escapes. The
two guests share keys when they share a namespace. Servers: scripts/ensure-services (Redis,
PostgreSQL, MariaDB); the Redis Cluster is the redis plugin's test fixture, started here too.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterator
from pathlib import Path

import guest_cli
import plugin_helpers
import pytest
from build import build_js_guest
from guest_cli import ROOT, TOUR_OUTPUT, RunCli
from wasmcache.testing.contract import unique_namespace

BACKENDS = [*guest_cli.BACKENDS, "redis-cluster"]


pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def js_guest() -> Path:
    """examples/hello_cache_js built with jco componentize (npm ci and build cached outside git)."""
    return build_js_guest("hello_cache_js")


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """The redis plugin's own three-master cluster fixture, stopped at the end of the session."""
    yield from plugin_helpers.REDIS.redis_cluster.__wrapped__(tmp_path_factory)


@pytest.fixture
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of the backend named by the test's parameter, with its own table/prefix/dir."""
    yield from guest_cli.backend_url(request, tmp_path)


@pytest.mark.parametrize("backend_url", BACKENDS, indirect=True)
def test_the_js_tour_prints_the_expected_output(backend_url: str, js_guest: Path,
                                                run_cli: RunCli) -> None:
    done = run_cli("run", "--backend", backend_url, "--namespace", unique_namespace(),
                   str(js_guest))
    assert (done.returncode, done.stdout) == (0, TOUR_OUTPUT), done.stderr


@pytest.mark.parametrize("backend_url", [b for b in BACKENDS if b != "memory"], indirect=True)
def test_python_and_js_guests_share_a_namespace(backend_url: str, js_guest: Path,
                                                hello_guest: Path, run_cli: RunCli) -> None:
    """Each reads what the other wrote, and both see the other's delete."""
    namespace = unique_namespace()

    def run(guest: Path, *args: str) -> tuple[int, str]:
        done = run_cli("run", "--backend", backend_url, "--namespace", namespace, str(guest),
                       *args)
        return done.returncode, done.stdout

    assert run(hello_guest, "set", "shared", "written by python") == (0, "set shared: ok\n")
    assert run(js_guest, "get", "shared") == (0, "get shared: 'written by python' (17 bytes)\n")
    assert run(js_guest, "set", "back", "written by javascript, caf\u00e9", "3600") \
        == (0, "set back: ok\n")
    assert run(hello_guest, "get", "back") \
        == (0, "get back: 'written by javascript, caf\u00e9' (28 bytes)\n")
    assert run(js_guest, "delete", "shared") == (0, "delete shared: ok\n")
    assert run(hello_guest, "get", "shared") == (1, "get shared: error not-found\n")
    assert run(hello_guest, "delete", "back") == (0, "delete back: ok\n")
    assert run(js_guest, "get", "back") == (1, "get back: error not-found\n")


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_both_guests_print_every_value_alike(backend_url: str, js_guest: Path,
                                             hello_guest: Path, run_cli: RunCli) -> None:
    """The same line for values written straight into the backend, and for the errors."""
    guest_cli.assert_prints_every_value_alike(backend_url, js_guest, hello_guest, run_cli)


def test_printable_table_is_from_the_installed_componentize_py() -> None:
    """printable.js must match the CPython inside componentize-py; regenerate when it changes."""
    header = (ROOT / "examples" / "hello_cache_js" / "printable.js").read_text()[:400]
    made_with = re.search(r"componentize-py (\S+):", header)
    assert made_with is not None
    assert made_with.group(1) == importlib.metadata.version("componentize-py"), (
        "run examples/hello_cache_js/make_printable_table.py")
