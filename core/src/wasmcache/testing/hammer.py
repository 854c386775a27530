"""One writer process of the concurrency test (`BackendHardeningTests`), run as a module.

    python -m wasmcache.testing.hammer URL NAMESPACE WRITER OPS KEYS START_FILE SEED

Waits for START_FILE to exist (so all writers begin together), then does OPS mixed calls through
a `GuestSession` over KEYS shared keys: set (no ttl or a long one), get, delete and set with
ttl 0. Every value it writes carries its own checksum (see `make_value`), so a reader can tell a
torn or mixed value from a whole one. Prints one JSON line: the counts, every get that returned
a bad value, every call that failed outside the contract, and its own log of writes per key.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
import time
from pathlib import Path

from ..errors import CacheError
from ..plugins import open_backend
from ..session import GuestSession

DIGEST = 32


def make_value(writer: int, seq: int, payload_len: int) -> bytes:
    """``w<writer>:s<seq>:`` + payload + sha256(everything before): self-checking."""
    head = f"w{writer}:s{seq}:".encode()
    payload = hashlib.shake_256(head).digest(payload_len) if payload_len else b""
    body = head + payload
    return body + hashlib.sha256(body).digest()


def check_value(value: bytes) -> tuple[int, int] | None:
    """(writer, seq) of a whole value, or None when it is torn, mixed or foreign."""
    if len(value) < DIGEST + 5:
        return None
    body, digest = value[:-DIGEST], value[-DIGEST:]
    if hashlib.sha256(body).digest() != digest:
        return None
    try:
        writer, seq = body.split(b":", 2)[:2]
        return int(writer[1:]), int(seq[1:])
    except ValueError:
        return None


def main(url: str, namespace: str, writer: int, ops: int, keys: int, start_file: str,
         seed: int) -> dict[str, object]:
    rng = random.Random(seed)
    backend = open_backend(url)
    host = GuestSession(backend, namespace)
    # per key: this writer's writes in order, each [seq, "set"|"delete", outcome]
    log: dict[str, list[list[object]]] = {f"k{i}": [] for i in range(keys)}
    counts = {"set": 0, "get": 0, "delete": 0, "unavailable": 0, "hits": 0}
    torn: list[str] = []
    failures: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not Path(start_file).exists():
            if time.monotonic() > deadline:
                raise SystemExit("start file never appeared")
            time.sleep(0.005)
        for seq in range(ops):
            key = f"k{rng.randrange(keys)}"
            roll = rng.random()
            if roll < 0.45:
                size = rng.choice((0, 16, 700, 4096, 40_000))
                ttl = rng.choice((None, None, 3600))
                result: object = host.set(key, make_value(writer, seq, size), ttl)
                op = "set"
            elif roll < 0.85:
                result = host.get(key)
                op = "get"
            elif roll < 0.95:
                result = host.delete(key)
                op = "delete"
            else:  # ttl 0: the core turns it into a delete
                result = host.set(key, make_value(writer, seq, 8), 0)
                op = "delete"
            counts[op] += 1
            if op == "get":
                if isinstance(result, bytes):
                    counts["hits"] += 1
                    if check_value(result) is None:
                        torn.append(f"{key}: {result[:40]!r}... ({len(result)} bytes)")
                elif result == CacheError.UNAVAILABLE:
                    counts["unavailable"] += 1
                elif result != CacheError.NOT_FOUND:
                    failures.append(f"get {key}: {result}")
                continue
            if result is None:
                log[key].append([seq, op, "ok"])
            elif result == CacheError.UNAVAILABLE:  # allowed by the contract; outcome unknown
                counts["unavailable"] += 1
                log[key].append([seq, op, "unknown"])
            else:
                failures.append(f"{op} {key}: {result}")
                log[key].append([seq, op, "unknown"])
    finally:
        backend.close()
    return {"writer": writer, "counts": counts, "torn": torn, "failures": failures, "log": log}


if __name__ == "__main__":
    url, namespace, writer, ops, keys, start_file, seed = sys.argv[1:8]
    print(json.dumps(main(url, namespace, int(writer), int(ops), int(keys), start_file,
                          int(seed))))
