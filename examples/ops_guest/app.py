"""A scripted guest: each argument is one call of wasmcache:cache or wasi:keyvalue.

    wasmcache run ops_guest.wasm cache.set:k:v kv.set:orders:k:v kv.increment:default:n:5

prints one line per call with what the interface answered, so a test (or an operator trying a
profile) can drive every operation of both interfaces through the CLI:

    cache.set:KEY:VALUE[:TTL]   cache.get:KEY   cache.delete:KEY
    kv.get:BUCKET:KEY   kv.set:BUCKET:KEY:VALUE   kv.delete:BUCKET:KEY   kv.exists:BUCKET:KEY
    kv.list:BUCKET   kv.increment:BUCKET:KEY:DELTA   kv.swap:BUCKET:KEY:VALUE (one cas round)
    kv.get-many:BUCKET:K1,K2   kv.set-many:BUCKET:K1=V1,K2=V2   kv.delete-many:BUCKET:K1,K2

A value written as `@N` is N bytes of `x` (for limits and quotas). Keys and values may not
contain ':' (or ',' and '=' in batches). The guest returns err when any call failed.
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import atomics, batch, cache, store


def value_of(text: str) -> bytes:
    return b"x" * int(text[1:]) if text.startswith("@") else text.encode()


def error_name(err: Err) -> str:
    value = err.value
    if isinstance(value, atomics.CasError_StoreError):
        return error_name(Err(value.value))
    if isinstance(value, atomics.CasError_CasFailed):
        return "cas-failed"
    if isinstance(value, store.Error_Other):
        return f"other({value.value})"
    if isinstance(value, store.Error_NoSuchStore | store.Error_AccessDenied):
        return {store.Error_NoSuchStore: "no-such-store",
                store.Error_AccessDenied: "access-denied"}[type(value)]
    return value.name.lower().replace("_", "-")  # the cache interface's enum


def shown(result: object) -> str:
    if result is None:
        return "ok"
    if isinstance(result, bytes):
        return f"{result.decode('utf-8', 'backslashreplace')!r}"
    if isinstance(result, list):
        return "[" + ", ".join("none" if item is None else shown(item) for item in result) + "]"
    if isinstance(result, tuple):
        return f"{result[0]}={shown(result[1])}"
    return repr(result)


def call(op: str, args: list[str]) -> object:
    if op == "cache.set":
        ttl = int(args[2]) if len(args) > 2 else None
        return cache.set(args[0], value_of(args[1]), ttl)
    if op == "cache.get":
        return cache.get(args[0])
    if op == "cache.delete":
        return cache.delete(args[0])
    with store.open(args[0]) as bucket:
        if op == "kv.get":
            value = bucket.get(args[1])
            return "none" if value is None else value
        if op == "kv.set":
            return bucket.set(args[1], value_of(args[2]))
        if op == "kv.delete":
            return bucket.delete(args[1])
        if op == "kv.exists":
            return bucket.exists(args[1])
        if op == "kv.list":
            return sorted(bucket.list_keys(None).keys)
        if op == "kv.increment":
            return atomics.increment(bucket, args[1], int(args[2]))
        if op == "kv.swap":
            return atomics.swap(atomics.Cas.new(bucket, args[1]), value_of(args[2]))
        if op == "kv.get-many":
            return batch.get_many(bucket, args[1].split(","))
        if op == "kv.set-many":
            items = [item.split("=", 1) for item in args[1].split(",")]
            return batch.set_many(bucket, [(key, value_of(value)) for key, value in items])
        if op == "kv.delete-many":
            return batch.delete_many(bucket, args[1].split(","))
    raise ValueError(f"unknown operation {op!r}")


def run_one(spec: str) -> bool:
    op, *args = spec.split(":")
    try:
        result = call(op, args)
    except Err as err:
        print(f"{spec}: error {error_name(err)}")
        return False
    print(f"{spec}: {result if isinstance(result, str) else shown(result)}")
    return True


class Run(exports.Run):
    def run(self) -> None:
        ok = True
        for spec in sys.argv[1:]:
            ok = run_one(spec) and ok
        if not ok:
            raise Err(None)
