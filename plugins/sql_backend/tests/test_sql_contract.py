"""The cache contract from wasmcache.testing, on a SQLite file, PostgreSQL and MariaDB."""

from __future__ import annotations

import pytest
from wasmcache.testing import BackendContractTests, BackendHardeningTests, KeyValueContractTests


class TestSqliteContract(BackendContractTests, BackendHardeningTests,
                         KeyValueContractTests):
    @pytest.fixture
    def backend_url(self, sqlite_url: str) -> str:
        return sqlite_url


class TestPostgresqlContract(BackendContractTests, BackendHardeningTests,
                         KeyValueContractTests):
    @pytest.fixture
    def backend_url(self, pg_url: str) -> str:
        return pg_url


class TestMariadbContract(BackendContractTests, BackendHardeningTests,
                         KeyValueContractTests):
    @pytest.fixture
    def backend_url(self, mysql_url: str) -> str:
        return mysql_url
