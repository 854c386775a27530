"""The benchmark suite's smoke mode runs end to end (it asserts no timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_smoke(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--smoke", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((tmp_path / "bench.json").read_text())
    assert "memory" in results["backends"]
    for label, data in results["backends"].items():
        assert {(r["op"], r["size"]) for r in data["rows"]} == {
            (op, size) for op in ("get", "set", "delete") for size in (100, 1 << 20)}, label
    table = (tmp_path / "bench.md").read_text().splitlines()
    assert table[2].startswith("| backend | op | size | guest µs/call | raw µs/call |")
    assert results["floor"]["delete_s"] > 0
    assert "ceiling" in results["backends"]["memory"]["rows"][0]
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
    c_guest = results["c_guest"]  # the C guest beside the Python one, on memory
    assert {(r["op"], r["size"]) for r in c_guest["rows"]} == {
        (op, size) for op in ("get", "set", "delete") for size in (100, 1 << 20)}
    assert c_guest["floor"]["delete_s"] > 0
    assert set(c_guest["floor"]["host_overhead_by_op_s"]) == {
        "get", "set", "delete", "get_1mib", "set_1mib"}
    assert all(row["over_first"] > 0 for row in c_guest["rows"])  # paired with the Python guest
    assert "| on memory, µs/call | Python guest | C guest | C / Python |" in table
    assert any(line.startswith("| memory, C guest | delete | 100 B |") for line in table)
    calls = results["invocations"]
    for guest in ("small", "big"):
        assert calls[guest]["guest_1t_per_s"] > 0 and calls[guest]["cli_per_s"] > 0
        assert calls[guest]["guest_2t_per_s"] > 0
        assert calls[guest]["ordinary_2t_per_s"] > 0  # the same runs on an unpooled engine
        assert calls[guest]["pooled_over_ordinary_2t"] > 0
    assert calls["startup"]["cli_s"] > 0 and calls["startup"]["wasmtime_s"] > 0
    assert "Invocations per second" in (tmp_path / "bench.md").read_text()
    assert "| guest, `Guest.run` | ordinary engine, 1 thread/s |" in "\n".join(table)
    lru = results["lru_cache"]  # both guests served by examples/lru_cache, against memory://
    for rows in (lru["guests"]["Python guest"], lru["guests"]["C guest"]):
        assert {(r["op"], r["size"]) for r in rows} == {
            (op, size) for op in ("get", "set", "delete") for size in (100, 1 << 20)}
        assert all(r["lru_s"] > 0 and r["memory_s"] > 0 for r in rows)
    assert "| guest | op | size | lru_cache µs/call | memory:// µs/call | memory/lru |" in table
    keyvalue = results["keyvalue"]
    for label in ("memory", "Redis"):
        rows = keyvalue["backends"][label]
        assert {(r["op"], r["size"]) for r in rows} == {
            ("get", 100), ("get", 1 << 20), ("set", 100), ("set", 1 << 20), ("exists", 100),
            ("increment", 0), ("get-many", 100), ("get-many", 1 << 20), ("set-many", 100),
            ("set-many", 1 << 20), ("set-many", 1024)}, label
        assert all(r["kv_s"] > 0 and r["raw_s"] > 0 for r in rows)
        assert all("kv_over_cache" in r for r in rows if r["op"] in ("get", "set"))
    assert "| backend | op | value | keys/call | keyvalue µs/call |" in "\n".join(table)


@pytest.mark.slow
def test_cold_cache_probe_runs() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.cold_cache", "--calls", "3"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    for label in ("disk", "Redis"):
        assert f"{label} backend get inside a guest run -> after guest code:" in done.stdout
        assert f"{label} raw get, memory written between calls -> 0 KiB:" in done.stdout
