"""The whole wasmcache contract on ``disk://``, unsharded and sharded, in a fresh directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from wasmcache.testing import BackendContractTests, BackendHardeningTests, KeyValueContractTests


class TestDiskContract(BackendContractTests, BackendHardeningTests, KeyValueContractTests):
    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"disk://{tmp_path / 'cache'}"

    def concurrency_url(self, backend_url: str) -> str:
        """8 processes on one counter queue for one SQLite lock: allow a long wait."""
        return f"{backend_url}?timeout=60"


class TestShardedDiskContract(BackendContractTests, BackendHardeningTests, KeyValueContractTests):
    """shards>1 goes through FanoutCache's shards: the same contract must hold."""

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"disk://{tmp_path / 'cache'}?shards=4&timeout=10"

    def concurrency_url(self, backend_url: str) -> str:
        return backend_url.replace("timeout=10", "timeout=60")
