"""pytest plugin (entry point ``pytest11``): fixtures for testing wasmcache backends and guests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .contract import unique_namespace

if TYPE_CHECKING:
    from .tls import TestPki


@pytest.fixture
def wasmcache_namespace() -> str:
    """A namespace no other test uses, so tests never share keys."""
    return unique_namespace()


@pytest.fixture
def wasmcache_memory_url() -> Iterator[str]:
    """A fresh ``memory://`` store for one test."""
    yield f"memory://{unique_namespace()}"


@pytest.fixture(scope="session")
def wasmcache_test_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A throw-away CA, server, wrong-host, expired and client certificates and a second CA
    (`wasmcache.testing.tls`), made once per session with the openssl command."""
    from .tls import make_test_pki

    return make_test_pki(tmp_path_factory.mktemp("wasmcache-pki"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The hardening suite's figures (examples, steps, operations), one line per test."""
    import sys

    # only when the suite ran: importing it here would need hypothesis in every environment
    hardening = sys.modules.get("wasmcache.testing.hardening")
    if hardening is not None and hardening.FIGURES:
        terminalreporter.section("wasmcache hardening figures")
        for line in hardening.FIGURES:
            terminalreporter.write_line(line)
    keyvalue = sys.modules.get("wasmcache.testing.keyvalue")
    if keyvalue is not None and keyvalue.FIGURES:
        terminalreporter.section("wasmcache keyvalue figures")
        for line in keyvalue.FIGURES:
            terminalreporter.write_line(line)
