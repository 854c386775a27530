"""The wasmcache contract suite on a real Redis server and on a real 3-master Redis Cluster."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from wasmcache.testing import BackendContractTests, BackendHardeningTests, KeyValueContractTests


class TestRedisServer(BackendContractTests, BackendHardeningTests, KeyValueContractTests):
    """The shared server, under this session's own key prefix."""

    @pytest.fixture
    def backend_url(self, shared_url: str) -> str:
        return shared_url


class TestRedisCluster(BackendContractTests, BackendHardeningTests, KeyValueContractTests):
    """Three masters started by the `redis_cluster` fixture; the URL names one of them."""

    @pytest.fixture
    def backend_url(self, redis_cluster: list[int], test_prefix: str) -> str:
        return f"redis+cluster://127.0.0.1:{redis_cluster[0]}?prefix={quote(test_prefix, safe='')}"
