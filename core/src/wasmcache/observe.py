"""What a guest call looked like, for whoever watches: ``--stats`` and telemetry.

`GuestSession` times a call only when it has an observer (`ObservedSession`), and reports
each one as a `Call` to `Observer.record`: one place where calls are measured, nothing
measured at all when nobody watches. A call never carries a key or a value, only their sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Call:
    """One guest call, as the session answered it."""

    #: the interface's operation: get, set, delete, open, exists, list-keys, increment,
    #: cas-new (a compare-and-swap's read), swap, get-many, set-many, delete-many
    operation: str
    #: the backend namespace the call touched (the guest's, or a bucket's)
    namespace: str
    #: the wasi:keyvalue bucket, or None for a wasmcache:cache call
    bucket: str | None
    #: "ok", "not-found", an error case ("invalid-key", ..., "internal") or "bad-request"
    outcome: str
    #: wall-clock start (ns since the epoch) and duration (ns, monotonic clock)
    start_ns: int
    duration_ns: int
    #: payload bytes from the guest (values stored) and to the guest (values read), counted
    #: for calls whose outcome is "ok"
    bytes_in: int = 0
    bytes_out: int = 0
    #: number of keys of a batch operation, else None
    batch_size: int | None = None
    #: why the policy refused it (access-none, read-only, key-prefix, quota), else None
    refusal: str | None = None


class Observer(Protocol):
    """Receives every call of a session (from the thread that made the call).

    An observer that wants to know the backend a session serves (telemetry names the store)
    also has ``bind(backend) -> Observer``: the session reports to what it returns (`bound`).
    """

    def record(self, call: Call) -> None: ...


def bound(observer: Observer | None, backend: Any) -> Observer | None:
    """The observer a session over `backend` reports to: ``observer.bind(backend)`` when it
    has one, else `observer` itself (called once, when the session is made)."""
    bind = getattr(observer, "bind", None)
    return observer if bind is None else bind(backend)


class Observers:
    """Several observers as one (``--stats`` and telemetry together)."""

    def __init__(self, observers: Sequence[Observer]) -> None:
        self.observers = tuple(observers)

    def record(self, call: Call) -> None:
        for observer in self.observers:
            observer.record(call)

    def bind(self, backend: Any) -> Observers:
        return Observers([bound(observer, backend) for observer in self.observers])


def combine(*observers: Observer | None) -> Observer | None:
    """One observer for the given ones (None when there are none)."""
    present = [observer for observer in observers if observer is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else Observers(present)
