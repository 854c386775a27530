"""One process of the wasi:keyvalue concurrency test (`KeyValueContractTests`), run as a module.

    python -m wasmcache.testing.kvhammer URL NAMESPACE INCREMENTS CAS_UPDATES START_FILE [PATH]

Waits for START_FILE (so all processes start together), then through a `KeyValueHost` (PATH
``host``, the default) or a guest nested with the keyvalue adapter on a host registered in
style PATH (``capi`` or ``public``: `wasmcache.testing.kvguest.GuestKeyValue`) adds 1
to the counter ``hits`` INCREMENTS times with `increment`, and CAS_UPDATES times adds 1 to the
decimal value under ``cas-total`` with a compare-and-swap retry loop (retrying with the fresh
cas a lost swap hands back). Prints one JSON line: what it did, the conflicts it retried and
any error.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..keyvalue.host import CasFailed, KeyValueHost, KvError
from ..plugins import open_backend
from ..session import GuestSession


def main(url: str, namespace: str, increments: int, cas_updates: int,
         start_file: str, path: str = "host") -> dict[str, object]:
    backend = open_backend(url)
    session = GuestSession(backend, namespace)
    if path == "host":
        host = KeyValueHost(session)
    else:
        from .kvguest import GuestKeyValue

        host = GuestKeyValue(session, path)  # type: ignore[assignment]
    errors: list[str] = []
    done = conflicts = 0
    try:
        bucket = host.open("default")
        assert not isinstance(bucket, KvError)
        deadline = time.monotonic() + 60
        while not Path(start_file).exists():
            if time.monotonic() > deadline:
                raise SystemExit("start file never appeared")
            time.sleep(0.005)
        for _ in range(increments):
            result = host.increment(bucket, "hits", 1)
            if isinstance(result, KvError):
                errors.append(f"increment: {result}")
        for _ in range(cas_updates):
            cas = host.cas_new(bucket, "cas-total")
            while True:
                if isinstance(cas, KvError):
                    errors.append(f"cas: {cas}")
                    break
                value = int(cas.current or b"0") + 1
                outcome = host.swap(cas, str(value).encode())
                if outcome is None:
                    done += 1
                    break
                if isinstance(outcome, CasFailed):
                    conflicts += 1
                    cas = outcome.cas
                    continue
                errors.append(f"swap: {outcome}")
                break
    finally:
        backend.close()
    return {"cas_done": done, "cas_conflicts": conflicts,
            "increment_cas_retries": session.ops.cas_retries, "errors": errors, "path": path}


if __name__ == "__main__":
    url, namespace, increments, cas_updates, start_file = sys.argv[1:6]
    print(json.dumps(main(url, namespace, int(increments), int(cas_updates), start_file,
                          *sys.argv[6:7])))
