"""Run by test_redis_outage.py: one GuestSession calling Redis in a loop, one line per call.

    python outage_caller.py URL NAMESPACE STOP_FILE

Writes one key, then reads it back until STOP_FILE exists, printing
``<seconds since start> <seconds the call took> <ok|wrong|error case>`` per call.
"""

from __future__ import annotations

import os
import sys
import time

import wasmcache

VALUE = b"written before the outage"


def main(url: str, namespace: str, stop_file: str) -> None:
    backend = wasmcache.open_backend(url)
    host = wasmcache.GuestSession(backend, namespace)
    print("set", host.set("before", VALUE, None) or "ok", flush=True)
    start = time.monotonic()
    while not os.path.exists(stop_file):
        began = time.monotonic()
        result = host.get("before")
        took = time.monotonic() - began
        if isinstance(result, bytes):
            label = "ok" if result == VALUE else "wrong"
        else:
            label = str(result.value)
        print(f"{began - start:.3f} {took:.3f} {label}", flush=True)
        time.sleep(0.05)
    host.delete("before")
    backend.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
