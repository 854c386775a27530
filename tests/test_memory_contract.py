"""The backend contract suite on the built-in memory:// backend."""

import pytest
from wasmcache.testing import (
    BackendContractTests,
    BackendHardeningTests,
    KeyValueContractTests,
    unique_namespace,
)


class TestMemoryContract(BackendContractTests, BackendHardeningTests, KeyValueContractTests):
    @pytest.fixture
    def backend_url(self) -> str:
        return f"memory://{unique_namespace()}"
