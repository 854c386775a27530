"""The operator's side of `wasmcache run`: --stats, logging, --timeout, --max-memory, profiles."""

from __future__ import annotations

import re
import time
from pathlib import Path


def test_stats_report_calls_results_bytes_and_latency(run_cli, hello_guest: Path) -> None:
    result = run_cli("run", "--stats", "-b", "memory://", str(hello_guest))
    assert result.returncode == 0
    rows = {line.split()[0]: line for line in result.stderr.splitlines()[2:]}
    # the tour: 8 sets (2 refused as invalid-key, 1 too large), 6 gets (2 not-found), 3 deletes
    assert re.search(r"^\s+set\s+8\s+invalid-key=2 ok=5 value-too-large=1\s+38\s+0\s",
                     rows["set"]), rows["set"]
    assert re.search(r"^\s+get\s+6\s+not-found=3 ok=3\s+0\s+33\s", rows["get"]), rows["get"]
    assert re.search(r"^\s+delete\s+2\s+ok=2\s", rows["delete"]), rows["delete"]
    p50, p99 = (float(x) for x in rows["get"].split()[-2:])
    assert 0 < p50 <= p99
    assert result.stderr.splitlines()[0] == "wasmcache stats:"


def test_refused_calls_are_logged_without_values(run_cli, hello_guest: Path) -> None:
    result = run_cli("-v", "run", "-b", "memory://", "-n", "logged", str(hello_guest))
    refused = [line for line in result.stderr.splitlines() if "refused" in line]
    assert refused == [
        "wasmcache: INFO: set in namespace logged refused: invalid-key",
        "wasmcache: INFO: set in namespace logged refused: invalid-key",
        "wasmcache: INFO: set in namespace logged refused: value-too-large",
    ]
    assert "hello from the guest" not in result.stderr


def test_timeout_stops_a_looping_guest(run_cli, hostile_guest: Path) -> None:
    start = time.monotonic()
    result = run_cli("run", "-b", "memory://", "--timeout", "2", str(hostile_guest), "loop")
    elapsed = time.monotonic() - start
    assert result.returncode == 3
    assert result.stderr.strip() == ("wasmcache: error: guest stopped: it ran longer than its "
                                     "timeout of 2 s")
    assert elapsed < 60


def test_timeout_from_a_profile(run_cli, tmp_path: Path, wat_guest) -> None:
    (tmp_path / "wasmcache.toml").write_text('[guests.slow]\nwasm = "*loop*"\ntimeout = 1\n')
    result = run_cli("run", "-b", "memory://", str(wat_guest("loop")))
    assert result.returncode == 3
    assert "timeout of 1 s" in result.stderr


def test_max_memory_ends_an_allocating_guest(run_cli, hostile_guest: Path) -> None:
    small = run_cli("run", "-b", "memory://", "--max-memory", "100MiB", str(hostile_guest),
                    "allocate", "10")
    assert small.returncode == 0
    assert small.stdout == "allocated 10 MiB\n"
    big = run_cli("run", "-b", "memory://", "--max-memory", "100MiB", str(hostile_guest),
                  "allocate", "200")
    assert big.returncode == 3
    last = big.stderr.strip().splitlines()[-1]
    assert last.startswith("wasmcache: error: guest trapped:")
    assert "capped at 100 MiB by --max-memory" in last
    assert "MemoryError" in big.stderr  # the guest's own report of the failed allocation


def test_bad_max_memory_flag(run_cli, wat_guest) -> None:
    result = run_cli("run", "-b", "memory://", "--max-memory", "plenty", str(wat_guest("err")))
    assert result.returncode == 2
    assert "invalid size 'plenty'" in result.stderr


def test_profiles_share_a_namespace_one_writes_one_reads(run_cli, tmp_path: Path,
                                                          hello_guest: Path) -> None:
    db = tmp_path / "shared.db"
    (tmp_path / "wasmcache.toml").write_text(f"""
backend = "sqlite:///{db}"
[guests.writer]
namespace = "shop"
key_prefixes = ["cart:"]
[guests.reader]
namespace = "shop"
access = "read-only"
[guests.locked]
namespace = "shop"
access = "none"
""")
    guest = str(hello_guest)
    assert run_cli("run", "-g", "writer", guest, "set", "cart:1", "apples").returncode == 0
    denied = run_cli("run", "-g", "writer", guest, "set", "other", "x")
    assert (denied.returncode, denied.stdout) == (1, "set other: error access-denied\n")
    read = run_cli("run", "-g", "reader", guest, "get", "cart:1")
    assert read.stdout == "get cart:1: 'apples' (6 bytes)\n"
    write = run_cli("run", "-g", "reader", guest, "delete", "cart:1")
    assert write.stdout == "delete cart:1: error access-denied\n"
    assert run_cli("run", "-g", "locked", guest, "get", "cart:1").stdout == \
        "get cart:1: error access-denied\n"
    assert run_cli("run", "-g", "reader", guest, "get", "cart:1").returncode == 0
