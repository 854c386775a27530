"""The cache interface's host side: validation, namespacing and error mapping, for all backends.

`CacheHost` methods take and return exactly what crosses the component boundary: they never
raise, so a backend fault can never trap the guest. Each returns ``None`` / ``bytes`` for ok
and the WIT error case name (a `CacheError`, which is a ``str``) for an error.
"""

from __future__ import annotations

import logging

from .backend import Backend
from .errors import BackendUnavailable, CacheError
from .limits import DEFAULT_NAMESPACE, Limits, validate_namespace

log = logging.getLogger("wasmcache.host")


class CacheHost:
    """One guest's view of a backend: its namespace and its limits."""

    def __init__(self, backend: Backend, namespace: str = DEFAULT_NAMESPACE,
                 limits: Limits | None = None) -> None:
        self.backend = backend
        self.namespace = validate_namespace(namespace)
        self.limits = limits or Limits()

    def _key(self, key: str) -> bytes | None:
        raw = key.encode("utf-8", "surrogatepass") if isinstance(key, str) else None
        if raw is None or not 1 <= len(raw) <= self.limits.max_key_bytes:
            return None
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate is not UTF-8
            return None
        return raw

    def _fail(self, op: str, exc: BaseException) -> CacheError:
        if isinstance(exc, BackendUnavailable):
            log.warning("%s in namespace %s: backend unavailable: %s", op, self.namespace, exc)
            return CacheError.UNAVAILABLE
        log.warning("%s in namespace %s: backend error: %s: %s",
                    op, self.namespace, type(exc).__name__, exc)
        return CacheError.INTERNAL

    def set(self, key: str, value: bytes, ttl: int | None) -> CacheError | None:
        raw = self._key(key)
        if raw is None:
            return CacheError.INVALID_KEY
        if len(value) > self.limits.max_value_bytes:
            return CacheError.VALUE_TOO_LARGE
        try:
            if ttl == 0:  # expired at once: nothing may stay readable, older value included
                self.backend.delete(self.namespace, raw)
            else:
                self.backend.set(self.namespace, raw, bytes(value), ttl)
        except Exception as exc:  # noqa: BLE001 - the guest gets an error case, never a trap
            return self._fail("set", exc)
        return None

    def get(self, key: str) -> bytes | CacheError:
        raw = self._key(key)
        if raw is None:
            return CacheError.INVALID_KEY
        try:
            value = self.backend.get(self.namespace, raw)
        except Exception as exc:  # noqa: BLE001
            return self._fail("get", exc)
        if value is None:
            return CacheError.NOT_FOUND
        return bytes(value)

    def delete(self, key: str) -> CacheError | None:
        raw = self._key(key)
        if raw is None:
            return CacheError.INVALID_KEY
        try:
            self.backend.delete(self.namespace, raw)
        except Exception as exc:  # noqa: BLE001
            return self._fail("delete", exc)
        return None
