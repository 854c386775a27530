"""Fixtures shared by the core's and the plugins' tests: the built example guest and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "examples"))
sys.path.insert(0, str(ROOT / "tests"))  # tests/guest_cli.py, shared by the guest-language tests

from build import build_guest  # noqa: E402

WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
TOUR_OUTPUT = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def hello_guest() -> Path:
    """examples/hello_cache built with componentize-py (cached outside git)."""
    return build_guest("hello_cache")


@pytest.fixture
def run_cli(tmp_path: Path) -> Iterator[RunCli]:
    """Run the installed ``wasmcache`` command as a user would; returns the finished process.

    Runs in a fresh temporary directory (so ./wasmcache.toml and ./.wasmcache are the test's
    own) unless ``cwd`` is given; ``env`` adds to the environment.
    """

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 120, input: str | None = None) -> subprocess.CompletedProcess[str]:
        full_env = {k: v for k, v in os.environ.items() if k != "WASMCACHE_BACKEND"}
        full_env.update(env or {})
        return subprocess.run([WASMCACHE, *args], cwd=cwd or tmp_path, env=full_env,
                              capture_output=True, text=True, timeout=timeout, input=input)

    yield run


GUESTS = ROOT / "tests" / "guests"


@pytest.fixture(scope="session")
def wat_guest(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """tests/guests/NAME.wat compiled to a .wasm file (tiny hand-written components)."""
    import wasmtime

    out = tmp_path_factory.mktemp("wat-guests")

    def build(name: str) -> Path:
        target = out / f"{name}.wasm"
        if not target.exists():
            target.write_bytes(wasmtime.wat2wasm((GUESTS / f"{name}.wat").read_text()))
        return target

    return build


class FailingBackend:
    """A backend whose every call raises `exc`: a test double for the core's error mapping only,
    never a stand-in for a real backend under test."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def get(self, namespace: str, key: bytes) -> bytes | None:
        raise self.exc

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        raise self.exc

    def delete(self, namespace: str, key: bytes) -> None:
        raise self.exc

    def close(self) -> None:
        pass
