"""The four distributions as users get them: scripts/check-wheels, and proof that it bites.

The slow test runs the whole script (build, inspect, fresh venv from the wheels only, the CLI
and the example guest on every backend); the fast ones feed its wheel inspection doctored
wheels to show that a missing or leaked file fails it.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import zipfile
from importlib.machinery import SourceFileLoader
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check-wheels"


def load_check_wheels() -> ModuleType:
    """scripts/check-wheels as a module (it has no .py suffix), to reuse its checks."""
    if "check_wheels" in sys.modules:
        return sys.modules["check_wheels"]
    loader = SourceFileLoader("check_wheels", str(SCRIPT))
    spec = importlib.util.spec_from_loader("check_wheels", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_wheels"] = module  # dataclasses look their module up here
    loader.exec_module(module)
    return module


cw = load_check_wheels()
CORE, DISK = cw.DISTS[0], cw.DISTS[1]
VERSION = "0.1.0"


@pytest.mark.slow
def test_wheels_install_from_wheels_only_and_serve_the_guest_on_every_backend(
        hello_guest: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--guest", str(hello_guest)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1500)
    print(proc.stdout[-6000:], proc.stderr[-4000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "all checks passed" in proc.stdout
    for backend in cw.ALL_BACKENDS:
        assert f"guest on {backend}: ok" in proc.stdout


def fake_wheel(tmp_path: Path, dist: object, *, drop: str = "", add: str = "",
               entry_points: str | None = None) -> Path:
    """A wheel with the source package's files, minus `drop`, plus `add`."""
    info = f"{dist.stem}-{VERSION}.dist-info"  # type: ignore[attr-defined]
    wheel = tmp_path / f"{dist.stem}-{VERSION}-py3-none-any.whl"  # type: ignore[attr-defined]
    requires = ("Requires-Dist: wasmtime<51,>=50.0.1" if dist is CORE
                else "Requires-Dist: wasmcache<0.2,>=0.1")
    if entry_points is None:
        entry_points = "\n".join(f"[{group}]\n{name} = {value}"
                                 for group, name, value in dist.entry_points)  # type: ignore[attr-defined]
    with zipfile.ZipFile(wheel, "w") as zf:
        for name in sorted(cw.source_files(dist)):
            if name != drop:
                zf.writestr(name, "")
        if add:
            zf.writestr(add, "")
        zf.writestr(f"{info}/METADATA", (
            f"Metadata-Version: 2.4\nName: {dist.project}\nVersion: {VERSION}\n"  # type: ignore[attr-defined]
            "Requires-Python: >=3.11\nLicense-Expression: Apache-2.0\n"
            f"Classifier: Typing :: Typed\n{requires}\n\n# readme\n"))
        zf.writestr(f"{info}/entry_points.txt", entry_points)
        zf.writestr(f"{info}/licenses/LICENSE", "Apache")
    return wheel


def failures_of(dist: object, wheel: Path) -> list[str]:
    checks = cw.Checks()
    cw.inspect_wheel(dist, wheel, VERSION, checks)
    return checks.failures


def test_a_complete_wheel_passes(tmp_path: Path) -> None:
    assert failures_of(CORE, fake_wheel(tmp_path, CORE)) == []
    assert failures_of(DISK, fake_wheel(tmp_path, DISK)) == []


@pytest.mark.parametrize("drop", ["wasmcache/wit/cache.wit", "wasmcache/py.typed",
                                  "wasmcache/wit/deps/io/streams.wit",
                                  "wasmcache/testing/contract.py"])
def test_a_file_missing_from_the_core_wheel_fails(tmp_path: Path, drop: str) -> None:
    failures = failures_of(CORE, fake_wheel(tmp_path, CORE, drop=drop))
    assert any(drop in failure for failure in failures), failures


@pytest.mark.parametrize("add", ["tests/test_cli.py", "wasmcache_disk/__init__.py",
                                 "plugins/sql_backend/x.py", "wasmcache/stray.txt"])
def test_a_file_leaking_into_the_core_wheel_fails(tmp_path: Path, add: str) -> None:
    failures = failures_of(CORE, fake_wheel(tmp_path, CORE, add=add))
    assert any(add in failure for failure in failures), failures


def test_a_plugin_wheel_without_py_typed_or_entry_point_fails(tmp_path: Path) -> None:
    no_typed = failures_of(DISK, fake_wheel(tmp_path, DISK, drop="wasmcache_disk/py.typed"))
    assert any("py.typed" in failure for failure in no_typed), no_typed
    no_entry = failures_of(DISK, fake_wheel(tmp_path, DISK, entry_points=""))
    assert any("entry point [wasmcache] disk" in failure for failure in no_entry), no_entry


def test_the_four_distributions_share_one_version() -> None:
    versions = {}
    for dist in cw.DISTS:
        text = (dist.source / "pyproject.toml").read_text()
        versions[dist.project] = text.split('\nversion = "', 1)[1].split('"', 1)[0]
    assert len(set(versions.values())) == 1, versions
    assert f"## [{versions['wasmcache']}]" in (ROOT / "CHANGELOG.md").read_text()
