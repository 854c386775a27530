"""The interface's error cases, and the exceptions a backend raises to reach them.

A backend never returns error codes: it raises `BackendUnavailable` when its server cannot be
reached and lets anything else propagate. `GuestSession` turns both into the WIT `error` enum at
the guest boundary, so a backend fault never traps the guest.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CacheError(enum.StrEnum):
    """`wasmcache:cache/cache.error`, in WIT order; the value is the case's WIT name."""

    NOT_FOUND = "not-found"
    INVALID_KEY = "invalid-key"
    VALUE_TOO_LARGE = "value-too-large"
    ACCESS_DENIED = "access-denied"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class BadRequest:
    """A request the cache interface has no error case for (wasi:keyvalue only): incrementing
    a value that is not a counter, a bad list-keys cursor. The guest sees ``other(message)``."""

    message: str


class WasmcacheError(Exception):
    """A user-facing problem (bad URL, missing plugin, bad config): printed as one line."""


class BackendUnavailable(Exception):
    """Raised by a backend when its store cannot be reached (refused, timed out, dropped)."""


class BackendMisconfigured(WasmcacheError):
    """Raised by a backend's optional ``check()`` when the store answered but cannot be used as
    configured: login refused, TLS verification failed, unknown database, no permission, a
    cluster URL at a server that is not one. The message is one line that says what is wrong
    and how to fix it; waiting will not help, so `wasmcache run` stops before the guest starts
    (exit 2). See `wasmcache.preflight`."""


def first_line(exc: BaseException) -> str:
    """The one line of a wasmtime error that tells a user what happened (its root cause)."""
    text = str(exc).strip()
    if "Caused by:" in text:
        causes = [line.strip() for line in text.split("Caused by:", 1)[1].splitlines()]
        causes = [line.split(": ", 1)[1] if line[:1].isdigit() and ": " in line else line
                  for line in causes if line]
        if causes:
            return causes[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
