"""Why a backend call costs more between guest calls than in a tight loop: cold CPU caches.

    .venv/bin/python -m bench.cold_cache

Times the raw client's 100-byte get (disk and Redis, as bench/run.py configures them) in a
tight loop, then with a given amount of memory written between calls, which is what running
guest code between two host calls does to the CPU's caches. No wasm is involved: if the get
slows down here, the same slowdown inside `wasmcache run` is not the host's code.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.raw import Raw, raw_disk, raw_redis

TOUCHED = (0, 256 << 10, 1 << 20, 4 << 20, 8 << 20)  # bytes written between two calls
CALLS = 2000
ROUNDS = 3


def get_between_touches(raw: Raw, touched: int) -> float:
    """Median over `ROUNDS` of the mean get time (s) with `touched` bytes written between."""
    key = b"cold-cache-probe"
    raw.set(key, bytes(range(100)))
    scratch = memoryview(bytearray(max(touched, 64)))
    line = b"\x01" * (touched // 64)  # one byte per 64-byte cache line
    rounds = []
    for _ in range(ROUNDS):
        total = 0
        for _ in range(CALLS):
            if touched:
                scratch[0:touched:64] = line
            start = time.perf_counter_ns()
            raw.get(key)
            total += time.perf_counter_ns() - start
        rounds.append(total / CALLS / 1e9)
    raw.delete(key)
    return statistics.median(rounds)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="wasmcache-cold-") as tmp:
        for label, factory in (("disk", raw_disk), ("Redis", raw_redis)):
            try:
                raw = factory(Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a server that is down skips, loudly
                print(f"{label}: skipped: {type(exc).__name__}: {exc}")
                continue
            try:
                cells = [f"{touched >> 10} KiB: {get_between_touches(raw, touched) * 1e6:.1f} µs"
                         for touched in TOUCHED]
            finally:
                raw.close()
            print(f"{label} raw get, memory written between calls -> " + ", ".join(cells))


if __name__ == "__main__":
    main()
