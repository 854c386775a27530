"""wasmtime-py's internals, used only by `wasmcache._wasmtime`: checked, never changed, and not
needed (the public API serves with identical results when they do not match)."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from wasmcache import _wasmtime

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "src" / "wasmcache"
TOUR = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()


def test_the_installed_wasmtime_py_passes_the_layout_check() -> None:
    assert _wasmtime.PROBLEM is None, _wasmtime.PROBLEM


def test_only_one_module_imports_a_private_wasmtime_name() -> None:
    """Every `wasmtime._x` / `wasmtime.component._x` import or attribute in the core is in
    `_wasmtime.py`."""
    offenders = []
    for path in sorted(CORE.rglob("*.py")):
        if path.name == "_wasmtime.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wasmtime"):
                names = [node.module or "", *(alias.name for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("wasmtime")]
            for name in names:
                if any(part.startswith("_") for part in name.split(".")):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_wasmtime_is_required_as_a_range_of_the_50_series() -> None:
    requirement = next(Requirement(line) for line in importlib.metadata.requires("wasmcache")
                       if line.startswith("wasmtime"))
    assert requirement.specifier.contains("50.0.1")
    assert requirement.specifier.contains("50.7.0")
    assert not requirement.specifier.contains("51.0.0")
    assert not requirement.specifier.contains("49.0.0")


# Run the CLI with wasmtime-py's host-callback type made to look like another release's (after
# wasmtime-py made its own callbacks, so it keeps working): only this child process is affected.
OTHER_LAYOUT = """
import ctypes, sys
import wasmtime.component
import wasmtime._ffi as ffi
ffi.wasmtime_component_func_callback_t = ctypes.CFUNCTYPE(ctypes.c_size_t, ctypes.c_void_p)
from wasmcache.cli import main
sys.argv = ["wasmcache", *sys.argv[1:]]
main()
"""


@pytest.mark.slow
def test_a_layout_mismatch_falls_back_to_the_public_api_with_one_warning(
        hello_guest: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", OTHER_LAYOUT, "run", "--backend", "memory://",
                           str(hello_guest)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert (done.returncode, done.stdout) == (0, TOUR), done.stderr
    assert done.stderr.splitlines() == [
        "wasmcache: WARNING: fast path off, wasmtime-py's public API serves every call (same "
        "answers, slower): wasmtime_component_func_callback_t changed its signature"]
