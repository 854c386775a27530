"""Run by test_redis_outage.py: ONE run of the example guest's tour on a real Redis backend
that waits at two chosen backend calls, so the test can stop Redis before one and restart it
before the other, in the middle of the guest's run.

    python outage_guest.py GUEST.wasm URL NAMESPACE CONTROL_FD STOP_AT START_AT

Before backend call number STOP_AT and START_AT it prints ``WAIT <n>`` on stderr and blocks
until the test writes a line to CONTROL_FD. The backend itself is the real one for URL.
"""

from __future__ import annotations

import os
import sys

import wasmcache


class WaitingBackend:
    """Delegates every call to the real backend; pauses before the chosen call numbers."""

    def __init__(self, inner: wasmcache.Backend, control_fd: int, wait_at: set[int]) -> None:
        self.inner = inner
        self.control = os.fdopen(control_fd, "r")
        self.wait_at = wait_at
        self.calls = 0

    def _next(self) -> None:
        self.calls += 1
        if self.calls in self.wait_at:
            print(f"WAIT {self.calls}", file=sys.stderr, flush=True)
            self.control.readline()

    def get(self, namespace: str, key: bytes) -> bytes | None:
        self._next()
        return self.inner.get(namespace, key)

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        self._next()
        self.inner.set(namespace, key, value, ttl)

    def delete(self, namespace: str, key: bytes) -> None:
        self._next()
        self.inner.delete(namespace, key)

    def close(self) -> None:
        self.inner.close()


def main(guest: str, url: str, namespace: str, control_fd: str, stop_at: str,
         start_at: str) -> int:
    backend = WaitingBackend(wasmcache.open_backend(url), int(control_fd),
                             {int(stop_at), int(start_at)})
    try:
        return wasmcache.run_guest(guest, backend, wasmcache.GuestOptions(namespace=namespace))
    finally:
        backend.close()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
