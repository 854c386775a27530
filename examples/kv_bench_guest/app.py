"""The keyvalue benchmark guest: times loops of wasi:keyvalue and wasmcache:cache calls from one
guest (world cache-keyvalue-command) and prints one JSON line per spec.

    wasmcache run kv_bench_guest.wasm IFACE.OP:SIZE:ITERATIONS[:BATCH] ...
    wasmcache run kv_bench_guest.wasm SPEC~SPEC ...      # two specs interleaved (below)

    kv.get  kv.set  kv.exists  kv.increment      one call of bucket "default" per iteration
    kv.get-many  kv.set-many                     one call with BATCH keys of SIZE bytes
    cache.get  cache.set                         the cache interface's same calls
    cache.get-many  cache.set-many               BATCH cache calls per iteration (the same work
                                                 as one keyvalue batch, one key at a time)

Two specs joined by "~" run as a pair: their loops alternate in CHUNKS slices (A, B, A, B...),
so both meet the same moments of a noisy machine. Reads first store their values. Timing uses
the guest's monotonic clock (time.perf_counter_ns), so only the calls are measured; afterwards
each spec deletes its keys.
"""

import json
import sys
import time

from wit_world import exports
from wit_world.imports import atomics, batch, cache, store

CHUNKS = 10


class Loop:
    """One spec: its call, made ready (values stored) and timed in slices."""

    def __init__(self, bucket: store.Bucket, spec: str) -> None:
        name, size_text, iterations_text, *rest = spec.split(":")
        self.name, self.size, self.iterations = name, int(size_text), int(iterations_text)
        self.batch = int(rest[0]) if rest else 1
        self.bucket, self.ns = bucket, 0
        key = f"bench-{name}-{self.size}"
        value = bytes(i & 0xFF for i in range(self.size))
        keys = [f"{key}-{index}" for index in range(self.batch)]
        items = [(k, value) for k in keys]
        self.keys = [key, *keys]
        if name in ("cache.get", "cache.get-many"):
            for k in self.keys:
                cache.set(k, value, None)
        elif name in ("kv.get", "kv.exists", "kv.get-many"):
            batch.set_many(bucket, [(key, value), *items])

        def cache_get_many() -> None:
            for k in keys:
                cache.get(k)

        def cache_set_many() -> None:
            for k in keys:
                cache.set(k, value, None)

        self.call = {
            "cache.get": lambda: cache.get(key),
            "cache.set": lambda: cache.set(key, value, None),
            "cache.get-many": cache_get_many,
            "cache.set-many": cache_set_many,
            "kv.get": lambda: bucket.get(key),
            "kv.set": lambda: bucket.set(key, value),
            "kv.exists": lambda: bucket.exists(key),
            "kv.increment": lambda: atomics.increment(bucket, key, 1),
            "kv.get-many": lambda: batch.get_many(bucket, keys),
            "kv.set-many": lambda: batch.set_many(bucket, items),
        }[name]
        check = self.call()  # outside the timing: what is read back is what was stored
        if name in ("cache.get", "kv.get"):
            assert check == value
        elif name == "kv.get-many":
            assert check == items

    def run(self, iterations: int) -> None:
        call = self.call
        start = time.perf_counter_ns()
        for _ in range(iterations):
            call()
        self.ns += time.perf_counter_ns() - start

    def done(self) -> dict:
        batch.delete_many(self.bucket, self.keys)
        return {"op": self.name, "size": self.size, "iterations": self.iterations,
                "batch": self.batch, "ns": self.ns}


def measure(bucket: store.Bucket, spec: str) -> list[dict]:
    loops = [Loop(bucket, one) for one in spec.split("~")]
    if len(loops) == 1:
        loops[0].run(loops[0].iterations)
    else:
        for chunk in range(CHUNKS):
            for loop in loops:
                share = loop.iterations * (chunk + 1) // CHUNKS - loop.iterations * chunk // CHUNKS
                loop.run(share)
    return [loop.done() for loop in loops]


class Run(exports.Run):
    def run(self) -> None:
        bucket = store.open("default")
        for spec in sys.argv[1:]:
            for line in measure(bucket, spec):
                print(json.dumps(line), flush=True)
