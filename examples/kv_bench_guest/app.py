"""The keyvalue benchmark guest: times loops of wasi:keyvalue and wasmcache:cache calls from one
guest (world cache-keyvalue-command) and prints one JSON line per spec.

    wasmcache run kv_bench_guest.wasm IFACE.OP:SIZE:ITERATIONS[:BATCH] ...

    kv.get  kv.set  kv.exists  kv.increment      one call of bucket "default" per iteration
    kv.get-many  kv.set-many                     one call with BATCH keys of SIZE bytes
    cache.get  cache.set                         the cache interface's same calls
    cache.get-many  cache.set-many               BATCH cache calls per iteration (the same work
                                                 as one keyvalue batch, one key at a time)

Reads first store their values. Timing uses the guest's monotonic clock (time.perf_counter_ns),
so only the calls are measured; afterwards the spec deletes its keys.
"""

import json
import sys
import time

from wit_world import exports
from wit_world.imports import atomics, batch, cache, store


def measure(bucket: store.Bucket, spec: str) -> dict:
    name, size_text, iterations_text, *rest = spec.split(":")
    size, iterations = int(size_text), int(iterations_text)
    count = int(rest[0]) if rest else 1
    key = f"bench-{name}-{size}"
    value = bytes(i & 0xFF for i in range(size))
    keys = [f"{key}-{index}" for index in range(count)]
    items = [(k, value) for k in keys]
    if name in ("cache.get", "cache.get-many"):
        for k in [key, *keys]:
            cache.set(k, value, None)
    elif name in ("kv.get", "kv.exists", "kv.get-many"):
        batch.set_many(bucket, [(key, value), *items])

    def cache_get_many() -> None:
        for k in keys:
            cache.get(k)

    def cache_set_many() -> None:
        for k in keys:
            cache.set(k, value, None)

    call = {
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
    check = call()  # one call outside the loop: the value read back must be the one stored
    if name in ("cache.get", "kv.get"):
        assert check == value
    elif name == "kv.get-many":
        assert check == items
    start = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    elapsed = time.perf_counter_ns() - start
    batch.delete_many(bucket, [key, *keys])
    return {"op": name, "size": size, "iterations": iterations, "batch": count, "ns": elapsed}


class Run(exports.Run):
    def run(self) -> None:
        bucket = store.open("default")
        for spec in sys.argv[1:]:
            print(json.dumps(measure(bucket, spec)), flush=True)
