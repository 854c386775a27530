"""The plugins' own test helpers, loaded once by path for every test module that needs them
(the plugins' tests are not packages): private Redis servers and clusters, private PostgreSQL
and MariaDB servers, and dropping what a test left in a shared server. `load_by_path` loads
any other test module's helpers the same way.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_by_path(name: str, path: Path) -> ModuleType:
    """The module at `path`, imported under `name` (registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


#: plugins/redis_backend/tests/conftest.py: RedisProcess, free_port, REDIS_CLI, delete_matching
REDIS = load_by_path("wasmcache_redis_test_helpers",
                     ROOT / "plugins/redis_backend/tests/conftest.py")
#: plugins/sql_backend/tests/conftest.py: drop_tables
SQL = load_by_path("wasmcache_sql_test_helpers", ROOT / "plugins/sql_backend/tests/conftest.py")
#: plugins/sql_backend/tests/test_sql_outage.py: PrivatePostgres, PrivateMariadb, PG_BIN, as_user
SQL_SERVERS = load_by_path("wasmcache_sql_outage_helpers",
                           ROOT / "plugins/sql_backend/tests/test_sql_outage.py")
