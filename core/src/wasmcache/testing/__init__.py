"""The backend contract suite, for this repository's backends and for third parties'.

Subclass `BackendContractTests` in a test module and provide a ``backend_url`` fixture::

    from wasmcache.testing import BackendContractTests

    class TestMyBackend(BackendContractTests):
        @pytest.fixture
        def backend_url(self):
            return "mybackend:///tmp/x"

Every test runs in a namespace of its own and deletes what it wrote, so the suite can run
against a shared server without touching anyone else's keys.

`BackendHardeningTests` adds model-based (hypothesis), multi-process and isolation tests on the
same fixture: ``class TestMyBackend(BackendContractTests, BackendHardeningTests)``;
`KeyValueContractTests` adds wasi:keyvalue (store, atomics, batch, 8-process atomics).
`ComponentContractTests` runs the same contract against cache components (components exporting
wasmcache:cache/cache, ``wasmcache run --cache-component``): provide ``cache_components``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .contract import BackendContractTests, TrackingBackend, unique_namespace
from .keyvalue import KeyValueContractTests

if TYPE_CHECKING:
    from .component import ComponentContractTests
    from .hardening import BackendHardeningTests


def __getattr__(name: str) -> Any:
    """Import the hardening suite (and hypothesis) only when it is asked for, so the pytest11
    plugin loads in an environment without hypothesis."""
    if name == "BackendHardeningTests":
        from .hardening import BackendHardeningTests

        return BackendHardeningTests
    if name == "ComponentContractTests":
        from .component import ComponentContractTests

        return ComponentContractTests
    raise AttributeError(name)

__all__ = ["BackendContractTests", "BackendHardeningTests", "ComponentContractTests",
           "KeyValueContractTests", "TrackingBackend", "unique_namespace"]
