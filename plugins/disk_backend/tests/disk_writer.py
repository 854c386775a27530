"""One writer process for test_disk_processes.py (run as a script, not collected by pytest).

    python disk_writer.py URL NAMESPACE WRITER_ID ROUNDS OUT.json

Opens the backend through `wasmcache.open_backend`, prints "ready", waits for a line on stdin
(so both writers start together), then per round sets one key of its own and one shared key to
a checksummed value (body + sha256(body)), now and then reading a shared key back. Writes what
it stored to OUT.json; any exception ends the process with a traceback and a non-zero status.

A set answered `unavailable` (SQLite's write lock held by the other writer past `timeout`:
its lock is not fair, and a writer in a tight loop can starve the other) stored nothing, so
the writer does what the contract tells a guest and tries again; it counts how often.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time

import wasmcache

OWN_KEYS = 400
SHARED_KEYS = 100
BIG = 40 * 1024  # above diskcache's own 32 KiB file threshold, which wasmcache-disk lifts


def checked(key: bytes, value: bytes | None) -> bytes:
    assert value is not None, key
    body, digest = value[:-32], value[-32:]
    assert hashlib.sha256(body).digest() == digest, (key, "checksum")
    assert body.split(b"|", 3)[2] == key, (key, "value belongs to another key")
    return value


def main() -> None:
    url, namespace, writer, rounds, out = sys.argv[1:6]
    backend = wasmcache.open_backend(url)
    print("ready", flush=True)
    sys.stdin.readline()
    rng = random.Random(writer)
    own: dict[str, str] = {}
    shared: dict[str, list[str]] = {}
    unavailable = 0
    started = time.time()
    for index in range(int(rounds)):
        for key in (f"own-{writer}-{index % OWN_KEYS}", f"shared-{index % SHARED_KEYS}"):
            size = BIG if index % 100 == 7 else rng.randrange(0, 200)
            body = f"{writer}|{index}|{key}|".encode() + os.urandom(size)
            value = body + hashlib.sha256(body).digest()
            while True:
                try:
                    backend.set(namespace, key.encode(), value, None)
                    break
                except wasmcache.BackendUnavailable:
                    unavailable += 1
            if key.startswith("own-"):
                own[key] = value.hex()
            else:
                shared.setdefault(key, []).append(hashlib.sha256(value).hexdigest())
        if index % 10 == 0:
            key = f"shared-{rng.randrange(min(index + 1, SHARED_KEYS))}".encode()
            checked(key, backend.get(namespace, key))
    ended = time.time()
    backend.close()
    with open(out, "w") as fh:
        json.dump({"own": own, "shared": shared, "started": started, "ended": ended,
                   "unavailable": unavailable}, fh)


if __name__ == "__main__":
    main()
