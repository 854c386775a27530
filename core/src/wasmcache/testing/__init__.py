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
same fixture: ``class TestMyBackend(BackendContractTests, BackendHardeningTests)``.
"""

from __future__ import annotations

from .contract import BackendContractTests, TrackingBackend, unique_namespace
from .hardening import BackendHardeningTests

__all__ = ["BackendContractTests", "BackendHardeningTests", "TrackingBackend",
           "unique_namespace"]
