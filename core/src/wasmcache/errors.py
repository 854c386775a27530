"""The interface's error cases, and the exceptions a backend raises to reach them.

A backend never returns error codes: it raises `BackendUnavailable` when its server cannot be
reached and lets anything else propagate. The core turns both into the WIT `error` enum at the
guest boundary, so a backend fault never traps the guest.
"""

from __future__ import annotations

import enum


class CacheError(enum.StrEnum):
    """`wasmcache:cache/cache.error`; the value is the case name wasmtime-py expects."""

    NOT_FOUND = "not-found"
    INVALID_KEY = "invalid-key"
    VALUE_TOO_LARGE = "value-too-large"
    ACCESS_DENIED = "access-denied"
    UNAVAILABLE = "unavailable"
    INTERNAL = "internal"


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


class CacheCallError(Exception):
    """Raised by the Python API (`Cache`) when a call answers with an interface error."""

    def __init__(self, error: CacheError, message: str = "") -> None:
        super().__init__(message or error.value)
        self.error = error
