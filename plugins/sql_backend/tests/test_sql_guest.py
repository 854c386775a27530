"""End to end: the example guest's tour through the real CLI prints the same on all three."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from wasmcache import open_backend
from wasmcache.testing.contract import unique_namespace
from wasmcache_sql import SqlBackend

ROOT = Path(__file__).resolve().parents[3]
TOUR_OUTPUT = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()


def delete_namespace(url: str, namespace: str) -> None:
    backend = open_backend(url)
    assert isinstance(backend, SqlBackend)
    try:
        table = backend.table
        with backend.engine.connect() as conn:
            conn.execute(sa.delete(table).where(table.c.namespace == namespace))
    finally:
        backend.close()


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql"])
def test_example_guest_tour(dialect: str, request: pytest.FixtureRequest, run_cli,  # type: ignore[no-untyped-def]
                            hello_guest: Path, tmp_path: Path) -> None:
    if dialect == "sqlite":
        url = "sqlite:///demo.db"  # relative: the file lands in the CLI's working directory
        db_url = f"sqlite:///{tmp_path / 'demo.db'}"
    else:
        url = db_url = request.getfixturevalue("pg_url" if dialect == "postgresql" else "mysql_url")
    namespace = unique_namespace()
    try:
        result = run_cli("run", "--backend", url, "--namespace", namespace, str(hello_guest),
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout == TOUR_OUTPUT
        again = run_cli("run", "--backend", url, "--namespace", namespace, str(hello_guest),
                        "get", "visits", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert again.stdout == "get visits: '1' (1 bytes)\n"
    finally:
        delete_namespace(db_url, namespace)
