"""The benchmark guest: times its own loops of cache calls and prints one JSON line per run.

    wasmcache run bench_guest.wasm OP:SIZE:ITERATIONS ...     # OP is get, set, delete or empty

`get` first stores SIZE bytes under its key; `empty` times the bare loop (the floor). Timing uses
the guest's monotonic clock (time.perf_counter_ns), so only the calls themselves are measured.
"""

import json
import sys
import time

from wit_world import exports
from wit_world.imports import cache


def measure(op: str, size: int, iterations: int) -> dict:
    key = f"bench-{op}-{size}"
    value = bytes(i & 0xFF for i in range(size))
    if op == "get":
        cache.set(key, value, None)
        assert cache.get(key) == value
    get, set_, delete = cache.get, cache.set, cache.delete
    start = time.perf_counter_ns()
    if op == "get":
        for _ in range(iterations):
            get(key)
    elif op == "set":
        for _ in range(iterations):
            set_(key, value, None)
    elif op == "delete":
        for _ in range(iterations):
            delete(key)
    else:
        for _ in range(iterations):
            pass
    elapsed = time.perf_counter_ns() - start
    return {"op": op, "size": size, "iterations": iterations, "ns": elapsed}


class Run(exports.Run):
    def run(self) -> None:
        for spec in sys.argv[1:]:
            op, size, iterations = spec.split(":")
            print(json.dumps(measure(op, int(size), int(iterations))), flush=True)
