"""The whole wasmcache contract on ``disk://``, unsharded and sharded, in a fresh directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from wasmcache.testing import BackendContractTests, BackendHardeningTests


class TestDiskContract(BackendContractTests, BackendHardeningTests):
    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"disk://{tmp_path / 'cache'}"


class TestShardedDiskContract(BackendContractTests, BackendHardeningTests):
    """shards>1 goes through FanoutCache's shards: the same contract must hold."""

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"disk://{tmp_path / 'cache'}?shards=4&timeout=10"
