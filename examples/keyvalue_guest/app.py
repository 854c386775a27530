"""A guest written for the standard wasi:keyvalue@0.2.0-draft2 (store, atomics, batch).

    wasmcache run keyvalue_guest.wasm              # the tour (needs bucket "archive" allowed)
    wasmcache run keyvalue_guest.wasm get KEY      # read KEY from the default bucket
    wasmcache run keyvalue_guest.wasm set KEY VALUE
    wasmcache run keyvalue_guest.wasm readonly     # what a read-only profile answers

It knows nothing of wasmcache: every line it prints is decided by the interfaces, so the output
is the same on every backend (expected_output.txt).
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import atomics, batch, store


def error_name(err: Err) -> str:
    """`no-such-store`, `access-denied`, `other`, `cas-failed` or `store-error(...)`."""
    value = err.value
    if isinstance(value, atomics.CasError_StoreError):
        return f"store-error({error_name(Err(value.value))})"
    if isinstance(value, atomics.CasError_CasFailed):
        return "cas-failed"
    return {store.Error_NoSuchStore: "no-such-store", store.Error_AccessDenied: "access-denied",
            store.Error_Other: "other"}[type(value)]


def show(label: str, call, none: str = "ok"):
    try:
        result = call()
    except Err as err:
        print(f"{label}: error {error_name(err)}")
        return err
    if isinstance(result, bytes):
        print(f"{label}: {result.decode('utf-8', 'backslashreplace')!r}")
    elif result is None:
        print(f"{label}: {none}")
    else:
        print(f"{label}: {result!r}")
    return result


def list_all(bucket: store.Bucket) -> tuple[list[str], int]:
    """Every key, following the cursor; (sorted distinct keys, pages)."""
    keys: set[str] = set()
    cursor, pages = None, 0
    while True:
        response = bucket.list_keys(cursor)
        pages += 1
        keys.update(response.keys)
        cursor = response.cursor
        if cursor is None:
            return sorted(keys), pages


def tour() -> None:
    show("open nope", lambda: store.open("nope"))
    bucket = store.open("default")
    print("open default: ok")
    show("get missing", lambda: bucket.get("missing"), "none")
    show("exists missing", lambda: bucket.exists("missing"))
    show("set greeting", lambda: bucket.set("greeting", b"hello from wasi:keyvalue"))
    show("get greeting", lambda: bucket.get("greeting"))
    show("exists greeting", lambda: bucket.exists("greeting"))
    show("set binary", lambda: bucket.set("caf\u00e9/\U0001F600", bytes(range(8)) + b"\xff"))
    show("get binary", lambda: bucket.get("caf\u00e9/\U0001F600"))
    show("delete greeting", lambda: bucket.delete("greeting"))
    show("exists greeting after delete", lambda: bucket.exists("greeting"))
    show("delete missing", lambda: bucket.delete("never-set"))
    show("get 251-byte key", lambda: bucket.get("k" * 251))
    show("set empty key", lambda: bucket.set("", b"x"))
    show("set 1 MiB + 1 value", lambda: bucket.set("huge", bytes(1024 * 1024 + 1)))

    # list-keys pages through 25 keys (the profile sets a small page)
    for index in range(25):
        bucket.set(f"item-{index:02}", str(index).encode())
    keys, pages = list_all(bucket)
    items = [key for key in keys if key.startswith("item-")]
    print(f"list-keys: {len(keys)} keys, items {items[0]}..{items[-1]} ({len(items)}), "
          f"more than one page: {pages > 1}")
    batch.delete_many(bucket, items)
    print(f"list-keys after delete-many: {list_all(bucket)[0]}")

    # atomics: increment
    show("increment counter +1", lambda: atomics.increment(bucket, "counter", 1))
    show("increment counter +41", lambda: atomics.increment(bucket, "counter", 41))
    show("increment counter -50", lambda: atomics.increment(bucket, "counter", -50))
    show("get counter", lambda: bucket.get("counter"))
    show("increment greeting-like value", lambda: (bucket.set("word", b"ten"),
                                                   atomics.increment(bucket, "word", 1))[1])

    # atomics: compare-and-swap
    cas = atomics.Cas.new(bucket, "balance")
    show("cas current of missing key", cas.current, "none")
    show("cas swap on missing key", lambda: atomics.swap(cas, b"100"))
    show("get balance", lambda: bucket.get("balance"))
    stale = atomics.Cas.new(bucket, "balance")
    show("stale cas current", stale.current)
    bucket.set("balance", b"150")  # someone else writes in between
    try:
        atomics.swap(stale, b"90")
        print("stale swap: ok (wrong!)")
    except Err as err:
        print(f"stale swap: error {error_name(err)}")
        fresh = err.value.value
        show("fresh cas current", fresh.current)
        current = int(fresh.current())
        show("retry swap", lambda: atomics.swap(fresh, str(current - 10).encode()))
    show("get balance after retry", lambda: bucket.get("balance"))

    # batch
    show("set-many", lambda: batch.set_many(bucket, [("a", b"1"), ("b", b"2"), ("c", b"3")]))
    show("get-many", lambda: batch.get_many(bucket, ["a", "missing", "c"]))
    show("delete-many", lambda: batch.delete_many(bucket, ["a", "b", "missing"]))
    show("get-many after delete-many", lambda: batch.get_many(bucket, ["a", "b", "c"]))

    # buckets are separate
    archive = store.open("archive")
    print("open archive: ok")
    show("archive get c", lambda: archive.get("c"), "none")
    show("archive set c", lambda: archive.set("c", b"archived"))
    show("archive get c", lambda: archive.get("c"))
    show("default get c", lambda: bucket.get("c"))
    show("archive list-keys", lambda: list_all(archive)[0])
    for key in ("c", "counter", "word", "balance", "caf\u00e9/\U0001F600"):
        bucket.delete(key)
    archive.delete("c")
    show("default list-keys at the end", lambda: list_all(bucket)[0])


def readonly() -> None:
    bucket = store.open("default")
    show("get shared", lambda: bucket.get("shared"), "none")
    show("get secret (outside the key prefixes)", lambda: bucket.get("secret"), "none")
    show("set shared", lambda: bucket.set("shared", b"x"))
    show("delete shared", lambda: bucket.delete("shared"))
    show("increment n", lambda: atomics.increment(bucket, "n", 1))
    show("set-many", lambda: batch.set_many(bucket, [("a", b"1")]))
    show("get 251-byte key", lambda: bucket.get("k" * 251))
    show("cas current on shared", lambda: atomics.Cas.new(bucket, "shared").current(), "none")
    show("cas swap on shared", lambda: atomics.swap(atomics.Cas.new(bucket, "shared"), b"x"))
    show("list-keys", lambda: list_all(bucket)[0])
    show("open archive", lambda: store.open("archive"))


class Run(exports.Run):
    def run(self) -> None:
        args = sys.argv[1:]
        if not args:
            tour()
            return
        if args[0] == "readonly":
            readonly()
            return
        bucket = store.open("default")
        if args[0] == "get" and len(args) == 2:
            outcome = show(f"get {args[1]}", lambda: bucket.get(args[1]), "none")
        elif args[0] == "set" and len(args) == 3:
            outcome = show(f"set {args[1]}", lambda: bucket.set(args[1], args[2].encode()))
        else:
            print("usage: [get KEY | set KEY VALUE | readonly]", file=sys.stderr)
            raise Err(None)
        if isinstance(outcome, Err):
            raise Err(None)
