"""How much a backend call pays for running between guest calls (cold CPU caches).

    .venv/bin/python -m bench.cold_cache [--calls N]

Two measurements, for disk and Redis (raw clients configured as bench/run.py configures them):

* the raw client's 100-byte get in a tight loop, then with a given amount of memory written
  between calls: how sensitive the call is to the state of the CPU's caches (no wasm at all);
* inside a real run of the bench guest, each guest get makes the host call the backend twice
  in a row: the first call follows guest code, the second follows the first, so the difference
  of their medians is what running the guest between calls costs the backend.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from wasmcache import Backend, open_backend
from wasmcache.runner import GuestOptions, run_guest

from bench.raw import Raw, raw_disk, raw_redis

TOUCHED = (0, 256 << 10, 1 << 20, 4 << 20, 8 << 20)  # bytes written between two calls
CALLS = 2000
ROUNDS = 3


def get_between_touches(raw: Raw, touched: int, calls: int) -> float:
    """Median over `ROUNDS` of the mean get time (s) with `touched` bytes written between."""
    key = b"cold-cache-probe"
    raw.set(key, bytes(range(100)))
    scratch = memoryview(bytearray(max(touched, 64)))
    line = b"\x01" * (touched // 64)  # one byte per 64-byte cache line
    rounds = []
    for _ in range(ROUNDS):
        total = 0
        for _ in range(calls):
            if touched:
                scratch[0:touched:64] = line
            start = time.perf_counter_ns()
            raw.get(key)
            total += time.perf_counter_ns() - start
        rounds.append(total / calls / 1e9)
    raw.delete(key)
    return statistics.median(rounds)


class TwiceTimed:
    """A backend whose get calls the real one twice in a row, timing each call."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.first: list[int] = []
        self.second: list[int] = []

    def get(self, namespace: str, key: bytes) -> bytes | None:
        start = time.perf_counter_ns()
        self.inner.get(namespace, key)
        middle = time.perf_counter_ns()
        value = self.inner.get(namespace, key)
        self.first.append(middle - start)
        self.second.append(time.perf_counter_ns() - middle)
        return value

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        self.inner.set(namespace, key, value, ttl)

    def delete(self, namespace: str, key: bytes) -> None:
        self.inner.delete(namespace, key)

    def close(self) -> None:
        self.inner.close()


def in_guest(url: str, calls: int) -> tuple[float, float]:
    """Median seconds of the first and the second backend get per guest get."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
    from build import build_guest

    backend = TwiceTimed(open_backend(url))
    try:
        run_guest(build_guest("bench_guest"), backend,
                  GuestOptions(namespace="cold-cache-probe", args=[f"get:100:{calls}"]))
        backend.delete("cold-cache-probe", b"bench-get-100")
    finally:
        backend.close()
    return statistics.median(backend.first) / 1e9, statistics.median(backend.second) / 1e9


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_cache")
    parser.add_argument("--calls", type=int, default=CALLS, help="calls per measurement")
    calls = parser.parse_args(argv).calls
    with tempfile.TemporaryDirectory(prefix="wasmcache-cold-") as tmp:
        for label, url in (("disk", f"disk://{tmp}/guest"), ("Redis", "redis://127.0.0.1:6379/0")):
            try:
                first, second = in_guest(url, calls)
            except Exception as exc:  # noqa: BLE001 - a server that is down skips, loudly
                print(f"{label}: skipped: {type(exc).__name__}: {exc}")
                continue
            print(f"{label} backend get inside a guest run -> after guest code: "
                  f"{first * 1e6:.1f} µs, right after another get: {second * 1e6:.1f} µs")
        for label, factory in (("disk", raw_disk), ("Redis", raw_redis)):
            try:
                raw = factory(Path(tmp))
            except Exception as exc:  # noqa: BLE001 - a server that is down skips, loudly
                print(f"{label}: skipped: {type(exc).__name__}: {exc}")
                continue
            try:
                cells = [f"{touched >> 10} KiB: "
                         f"{get_between_touches(raw, touched, calls) * 1e6:.1f} µs"
                         for touched in TOUCHED]
            finally:
                raw.close()
            print(f"{label} raw get, memory written between calls -> " + ", ".join(cells))


if __name__ == "__main__":
    main()
