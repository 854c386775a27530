"""Plugins seen from the command line: switched off by WASMCACHE_DISABLE_PLUGINS, a broken one
reported by name while the others keep serving guests, and a plugin found through nothing but its
entry point and its `wasmcache_register_backends` hook.

The extra plugins here are real distributions as importlib.metadata finds them: a
``NAME-VERSION.dist-info`` directory (METADATA, entry_points.txt) and a module, in a temporary
directory put on PYTHONPATH of the ``wasmcache`` process.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from conftest import install_plugin

ROOT = Path(__file__).resolve().parent.parent
RunCli = Callable[..., CompletedProcess[str]]
EXPECTED = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()


def schemes_of(stdout: str) -> dict[str, str]:
    """scheme -> distribution, from `wasmcache backends`."""
    return {line.split()[0]: line.split()[1] for line in stdout.splitlines()[1:] if line.strip()}


def guest_run(run_cli: RunCli, hello_guest: Path, url: str,
              env: dict[str, str]) -> CompletedProcess[str]:
    return run_cli("run", "--backend", url, "--namespace", f"pl-{uuid.uuid4().hex[:8]}",
                   str(hello_guest), env=env)


# --- WASMCACHE_DISABLE_PLUGINS ----------------------------------------------------------------
def test_a_disabled_plugin_disappears_from_backends_and_version(run_cli: RunCli) -> None:
    before = run_cli("backends")
    assert before.returncode == 0 and "redis://" in schemes_of(before.stdout)
    env = {"WASMCACHE_DISABLE_PLUGINS": "redis"}
    after = run_cli("backends", env=env)
    assert after.returncode == 0 and after.stderr == ""
    schemes = schemes_of(after.stdout)
    assert "wasmcache-redis" not in schemes.values()
    assert {"memory://", "disk://", "sqlite://"} <= set(schemes)
    version = run_cli("--version", env=env).stdout.splitlines()
    assert "wasmcache-redis" not in " ".join(version) and "wasmcache-sql" in " ".join(version)


def test_several_plugins_and_the_builtin_one_can_be_disabled(run_cli: RunCli) -> None:
    proc = run_cli("backends", env={"WASMCACHE_DISABLE_PLUGINS": "memory, sql,disk"})
    assert set(schemes_of(proc.stdout).values()) == {"wasmcache-redis"}


def test_a_disabled_plugins_scheme_names_the_pip_install(run_cli: RunCli,
                                                          hello_guest: Path) -> None:
    proc = run_cli("run", "--backend", "redis://127.0.0.1:6379/0", str(hello_guest),
                   env={"WASMCACHE_DISABLE_PLUGINS": "redis"})
    assert proc.returncode == 2 and proc.stdout == ""
    assert "pip install wasmcache-redis" in proc.stderr


# --- a plugin that fails to load ----------------------------------------------------------------
BROKEN = {
    "import-error": ('raise ImportError("needs libfoo, which is not installed")\n',
                     "ImportError: needs libfoo, which is not installed"),
    "missing-dependency": ("import wasmcache_no_such_dependency_xyz\n",
                           "ModuleNotFoundError: No module named "
                           "'wasmcache_no_such_dependency_xyz'"),
    "error-at-import": ('raise RuntimeError("bad configuration")\n',
                        "RuntimeError: bad configuration"),
    "no-module": (None, "ModuleNotFoundError: No module named 'wasmcache_broken_example'"),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_broken_plugin_is_named_with_its_error_and_the_rest_is_listed(
        run_cli: RunCli, tmp_path: Path, kind: str) -> None:
    source, error = BROKEN[kind]
    site = install_plugin(tmp_path / "site", "broken-example", "broken",
                          "wasmcache_broken_example", source)
    proc = run_cli("backends", env={"PYTHONPATH": str(site)})
    assert proc.returncode == 0
    assert f"plugin 'broken' (broken-example) failed to load: {error}" in proc.stderr
    schemes = schemes_of(proc.stdout)
    assert {"memory://", "disk://", "redis://", "sqlite://"} <= set(schemes)
    assert "broken-example" not in schemes.values()


def test_wasmcache_backends_reports_a_broken_plugin_once(run_cli: RunCli, tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site", "broken-example", "broken",
                          "wasmcache_broken_example", BROKEN["import-error"][0])
    proc = run_cli("backends", env={"PYTHONPATH": str(site)})
    assert proc.stderr.count("'broken'") == 1, proc.stderr


def test_other_backends_serve_guests_next_to_a_broken_plugin(
        run_cli: RunCli, tmp_path: Path, hello_guest: Path) -> None:
    site = install_plugin(tmp_path / "site", "broken-example", "broken",
                          "wasmcache_broken_example", BROKEN["import-error"][0])
    env = {"PYTHONPATH": str(site)}
    for url in ("memory://", f"disk://{tmp_path / 'store'}"):
        proc = guest_run(run_cli, hello_guest, url, env)
        assert (proc.returncode, proc.stdout) == (0, EXPECTED), proc.stderr
        assert proc.stderr.count("plugin 'broken' (broken-example) failed to load: "
                                 "ImportError: needs libfoo") == 1, proc.stderr


def test_disabling_a_broken_plugin_silences_it(run_cli: RunCli, tmp_path: Path) -> None:
    site = install_plugin(tmp_path / "site", "broken-example", "broken",
                          "wasmcache_broken_example", BROKEN["import-error"][0])
    env = {"PYTHONPATH": str(site), "WASMCACHE_DISABLE_PLUGINS": "broken"}
    proc = run_cli("backends", env=env)
    assert proc.returncode == 0 and proc.stderr == ""


# --- the hook, through an entry point ------------------------------------------------------------
TOY = '''
from wasmcache import BackendSpec, hookimpl
from wasmcache.backends.memory import MemoryBackend


@hookimpl
def wasmcache_register_backends(register):
    register(BackendSpec(schemes=("toy", "toy+fast"), open=lambda url: MemoryBackend(),
                         description="a toy from an entry point"))
'''


def test_wasmcache_register_backends_is_called_for_an_entry_point_plugin(
        run_cli: RunCli, tmp_path: Path, hello_guest: Path) -> None:
    site = install_plugin(tmp_path / "site", "toy-plugin", "toy", "wasmcache_toy_example", TOY)
    env = {"PYTHONPATH": str(site)}
    proc = run_cli("backends", env=env)
    assert proc.returncode == 0 and proc.stderr == ""
    rows = {line.split()[0]: line.split()[1:3] for line in proc.stdout.splitlines()[1:]}
    assert rows["toy://"] == rows["toy+fast://"] == ["toy-plugin", "0.0.1"]
    assert "toy-plugin 0.0.1" in run_cli("--version", env=env).stdout.splitlines()
    run = guest_run(run_cli, hello_guest, "toy://", env)
    assert (run.returncode, run.stdout) == (0, EXPECTED), run.stderr
    off = run_cli("backends", env={**env, "WASMCACHE_DISABLE_PLUGINS": "toy"})
    assert "toy://" not in schemes_of(off.stdout)


# --- listing imports no backend library --------------------------------------------------------
LIST_AND_REPORT_IMPORTS = """
import sys
from wasmcache.testing.cli import invoke
result = invoke(["backends"])
assert result.exit_code == 0, result.output
print(" ".join(sorted(name for name in ("redis", "sqlalchemy", "diskcache", "psycopg", "pymysql")
                      if name in sys.modules)) or "none")
"""


def test_backends_lists_every_scheme_without_importing_a_backend_library() -> None:
    """Capabilities are declared where a plugin registers: listing opens and imports nothing."""
    done = subprocess.run([sys.executable, "-c", LIST_AND_REPORT_IMPORTS], capture_output=True,
                          text=True, timeout=60)
    assert (done.returncode, done.stdout) == (0, "none\n"), done.stderr
