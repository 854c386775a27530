"""A third party's backend, end to end: examples/third_party_backend (``wasmcache-jsonfile``).

It is copied out of the repository, built into a wheel like any outside package, and installed
with the core's wheel (no editable installs, no source tree on the path) into a fresh virtual
environment. There, ``wasmcache backends`` must list it, its own tests (the contract suite from
``wasmcache.testing`` plus its particular tests, public API only) must pass under that
environment's pytest, and the example guest must run on it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "third_party_backend"
EXPECTED = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()
SCRUB = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "WASMCACHE_BACKEND",
         "WASMCACHE_DISABLE_PLUGINS", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"}

pytestmark = pytest.mark.slow


@dataclass
class Outside:
    """The fresh environment and the copy of the example, as a third party has them."""

    venv: Path
    project: Path
    work: Path
    env: dict[str, str]

    def run(self, *args: str, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=cwd or self.work, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def _check(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, f"{proc.args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outside]:
    base = tmp_path_factory.mktemp("third-party")
    project, dist, venv, work = (base / "wasmcache-jsonfile", base / "dist", base / "venv",
                                 base / "work")
    work.mkdir()
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".pytest_cache", "build", "dist", "*.egg-info"))
    builder = sys.executable
    if subprocess.run([builder, "-c", "import build"], capture_output=True).returncode:
        tools = base / "tools"
        _check(subprocess.run([sys.executable, "-m", "venv", str(tools)], capture_output=True,
                              text=True))
        _check(subprocess.run([str(tools / "bin" / "python"), "-m", "pip", "install", "-q",
                               "build"], capture_output=True, text=True))
        builder = str(tools / "bin" / "python")
    for source in (ROOT / "core", project):
        _check(subprocess.run([builder, "-m", "build", "--wheel", "--outdir", str(dist),
                               str(source)], capture_output=True, text=True, timeout=600))
    env = {key: value for key, value in os.environ.items() if key not in SCRUB}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv),
               PYTHONNOUSERSITE="1")
    box = Outside(venv, project, work, env)
    _check(box.run(sys.executable, "-m", "venv", str(venv)))
    wheels = {path.name.split("-")[0]: path for path in dist.glob("*.whl")}
    assert set(wheels) == {"wasmcache", "wasmcache_jsonfile"}, wheels
    report = work / "pip-report.json"
    # Both wheels by file name: pip cannot take either from an index or from the source tree;
    # wasmtime, pluggy, platformdirs and pytest come from the package index.
    _check(box.run(str(box.bin / "python"), "-m", "pip", "install", "-q",
                   "--disable-pip-version-check", "--report", str(report),
                   str(wheels["wasmcache"]), f"{wheels['wasmcache_jsonfile']}[test]"))
    installed = {item["metadata"]["name"]: item["download_info"]["url"]
                 for item in json.loads(report.read_text())["install"]}
    assert installed["wasmcache"] == wheels["wasmcache"].as_uri()
    assert installed["wasmcache-jsonfile"] == wheels["wasmcache_jsonfile"].as_uri()
    yield box


def test_it_is_installed_from_its_wheel_outside_the_source_tree(outside: Outside) -> None:
    proc = _check(outside.run(str(outside.bin / "python"), "-c",
                              "import wasmcache, wasmcache_jsonfile; "
                              "print(wasmcache.__file__); print(wasmcache_jsonfile.__file__)"))
    for line in proc.stdout.split():
        assert Path(line).resolve().is_relative_to(outside.venv.resolve()), line
    assert not list((outside.venv / "lib").glob("*/site-packages/__editable__*"))


def test_wasmcache_backends_lists_it(outside: Outside) -> None:
    proc = _check(outside.run(str(outside.bin / "wasmcache"), "backends"))
    assert proc.stderr == ""
    rows = {line.split()[0]: line.split()[1:3] for line in proc.stdout.splitlines()[1:]}
    assert rows["jsonfile://"] == ["wasmcache-jsonfile", "0.1.0"]
    assert rows["memory://"][0] == "wasmcache"
    version = _check(outside.run(str(outside.bin / "wasmcache"), "--version")).stdout
    assert "wasmcache-jsonfile 0.1.0" in version.splitlines()


def test_its_contract_suite_passes_in_the_fresh_environment(outside: Outside) -> None:
    # From the copied project: its own pyproject.toml is the rootdir, nothing of this repository
    # (conftest.py, pyproject.toml) is in reach, and its src/ layout keeps the sources off
    # sys.path, so the tests import the installed wheel.
    proc = outside.run(str(outside.bin / "python"), "-m", "pytest", "-p", "no:cacheprovider",
                       "-q", "tests", cwd=outside.project, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert "skipped" not in summary and "failed" not in summary, summary
    assert "TestJsonFileContract" in _check(outside.run(
        str(outside.bin / "python"), "-m", "pytest", "-p", "no:cacheprovider", "-q",
        "--collect-only", "tests", cwd=outside.project)).stdout
    assert passed >= 35, summary


def test_the_example_guest_runs_on_it(outside: Outside, hello_guest: Path) -> None:
    url = f"jsonfile://{outside.work / 'guest-cache.json'}"
    proc = outside.run(str(outside.bin / "wasmcache"), "run", "--backend", url,
                       "--namespace", f"tp-{uuid.uuid4().hex[:8]}", str(hello_guest))
    assert (proc.returncode, proc.stdout) == (0, EXPECTED), proc.stderr
