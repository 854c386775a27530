"""The example guest: uses every function of wasmcache:cache/cache and prints what it saw.

    wasmcache run hello_cache.wasm                 # a tour of set / get / delete, ttl and errors
    wasmcache run hello_cache.wasm set KEY VALUE [TTL]
    wasmcache run hello_cache.wasm get KEY
    wasmcache run hello_cache.wasm delete KEY

It sees no network and no files: the cache is the only state it has, and the host decides
where it lives (memory, disk, Redis, SQL) without the guest changing.
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import cache


def error_name(err: Err) -> str:
    return err.value.name.lower().replace("_", "-")


def show(label: str, call) -> object:
    try:
        result = call()
    except Err as err:
        print(f"{label}: error {error_name(err)}")
        return err
    if isinstance(result, bytes):
        print(f"{label}: {result.decode('utf-8', 'backslashreplace')!r} ({len(result)} bytes)")
    else:
        print(f"{label}: ok")
    return result


def tour() -> None:
    show("set greeting", lambda: cache.set("greeting", b"hello from the guest", None))
    show("get greeting", lambda: cache.get("greeting"))
    show("set unicode key", lambda: cache.set("caf\u00e9/\U0001F600", bytes(range(8)), None))
    show("get unicode key", lambda: cache.get("caf\u00e9/\U0001F600"))
    show("delete greeting", lambda: cache.delete("greeting"))
    show("get greeting after delete", lambda: cache.get("greeting"))
    show("delete missing key", lambda: cache.delete("never-set"))
    show("set with ttl 0", lambda: cache.set("ephemeral", b"gone", 0))
    show("get ttl-0 key", lambda: cache.get("ephemeral"))
    show("set with ttl 3600", lambda: cache.set("session", b"token", 3600))
    show("get ttl-3600 key", lambda: cache.get("session"))
    show("set empty key", lambda: cache.set("", b"x", None))
    show("set 251-byte key", lambda: cache.set("k" * 251, b"x", None))
    show("set 1 MiB + 1 value", lambda: cache.set("huge", bytes(1024 * 1024 + 1), None))
    try:
        visits = int(cache.get("visits").decode()) + 1
    except Err:
        visits = 1
    show("set visits", lambda: cache.set("visits", str(visits).encode(), None))
    print(f"visits: {visits}")


def command(args: list[str]) -> None:
    op, key, rest = args[0], args[1], args[2:]
    if op == "set":
        ttl = int(rest[1]) if len(rest) > 1 else None
        outcome = show(f"set {key}", lambda: cache.set(key, rest[0].encode(), ttl))
    elif op == "get":
        outcome = show(f"get {key}", lambda: cache.get(key))
    elif op == "delete":
        outcome = show(f"delete {key}", lambda: cache.delete(key))
    else:
        print(f"unknown command {op!r}: use set, get or delete", file=sys.stderr)
        raise Err(None)
    if isinstance(outcome, Err):
        raise Err(None)


class Run(exports.Run):
    def run(self) -> None:
        args = sys.argv[1:]
        if not args:
            tour()
        elif len(args) < 2:
            print("usage: hello_cache [set KEY VALUE [TTL] | get KEY | delete KEY]",
                  file=sys.stderr)
            raise Err(None)
        else:
            command(args)
