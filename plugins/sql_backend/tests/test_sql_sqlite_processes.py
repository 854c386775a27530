"""SQLite in WAL mode: two processes share one file without "database is locked"."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from wasmcache import open_backend
from wasmcache_sql import SqlBackend

WORKER = """
import sys, time
from wasmcache import open_backend
url, me, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
while time.time() < start:  # both processes begin together, schema creation included
    time.sleep(0.001)
backend = open_backend(url)
for i in range(300):
    own = f"{me}-{i}".encode()
    backend.set("ns", own, b"v" * 200, None)
    backend.set("ns", b"shared", me.encode(), 3600)
    assert backend.get("ns", own) == b"v" * 200
    assert backend.get("ns", b"shared") in (b"a", b"b")
    if i % 2:
        backend.delete("ns", own)
backend.close()
print("done", me)
"""


def test_two_processes_share_one_file(tmp_path: Path, sql_table: str) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}?table={sql_table}&purge_interval=0"
    start = time.time() + 1.0
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, url, name, str(start)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("a", "b")]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert "locked" not in err, err
        assert worker.returncode == 0, err
        assert out.startswith("done"), out
    backend = open_backend(url)
    assert isinstance(backend, SqlBackend)
    try:
        with backend.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            rows = conn.execute(sa.select(sa.func.count()).select_from(backend.table)).scalar()
        assert rows == 2 * 150 + 1  # the odd-numbered own keys were deleted, plus "shared"
    finally:
        backend.close()


def test_connections_are_pooled_and_reused(tmp_path: Path, sql_table: str) -> None:
    backend = open_backend(f"sqlite:///{tmp_path / 'pool.db'}?table={sql_table}")
    assert isinstance(backend, SqlBackend)
    connects: list[object] = []
    sa.event.listen(backend.engine, "connect", lambda conn, record: connects.append(conn))
    try:
        for i in range(50):
            backend.set("ns", b"k%d" % i, b"v", None)
            assert backend.get("ns", b"k%d" % i) == b"v"
        assert len(connects) == 0  # the connection opened at start is reused throughout
    finally:
        backend.close()
