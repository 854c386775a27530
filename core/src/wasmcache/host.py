"""The cache interface's host side: validation, policy, namespacing and error mapping, once.

`CacheHost` methods take and return exactly what crosses the component boundary: they never
raise, so a backend fault can never trap the guest. Each returns ``None`` / ``bytes`` for ok
and the WIT error case name (a `CacheError`, which is a ``str``) for an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .backend import Backend
from .errors import BackendUnavailable, CacheError
from .limits import DEFAULT_NAMESPACE, Limits, validate_namespace
from .policy import UNRESTRICTED, Policy, QuotaGuard
from .stats import Stats

log = logging.getLogger("wasmcache.host")

INVALID_KEY = CacheError.INVALID_KEY
DENIED = CacheError.ACCESS_DENIED


class CacheHost:
    """One guest's view of a backend: its namespace, limits, policy and (optional) stats."""

    def __init__(self, backend: Backend, namespace: str = DEFAULT_NAMESPACE,
                 limits: Limits | None = None, policy: Policy = UNRESTRICTED,
                 stats: Stats | None = None) -> None:
        self.backend = backend
        self.namespace = validate_namespace(namespace)
        self.limits = limits or Limits()
        self.policy = policy
        self.quota = QuotaGuard(backend, self.namespace, policy) if policy.has_quota else None
        self.stats = stats
        if stats is not None:  # timing wrappers only when asked for: the plain path stays lean
            self.set = self._timed("set", self.set)  # type: ignore[method-assign]
            self.get = self._timed("get", self.get)  # type: ignore[method-assign]
            self.delete = self._timed("delete", self.delete)  # type: ignore[method-assign]

    # --- helpers --------------------------------------------------------------------------
    def _key(self, key: str) -> bytes | None:
        try:
            raw = key.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):  # a lone surrogate is not UTF-8
            return None
        return raw if 1 <= len(raw) <= self.limits.max_key_bytes else None

    def _refuse(self, op: str, error: CacheError) -> CacheError:
        log.info("%s in namespace %s refused: %s", op, self.namespace, error.value)
        return error

    def _fail(self, op: str, exc: BaseException) -> CacheError:
        if isinstance(exc, BackendUnavailable):
            log.warning("%s in namespace %s: backend unavailable: %s", op, self.namespace, exc)
            return CacheError.UNAVAILABLE
        log.warning("%s in namespace %s: backend error: %s: %s",
                    op, self.namespace, type(exc).__name__, exc)
        return CacheError.INTERNAL

    def _timed(self, op: str, call: Callable[..., Any]) -> Callable[..., Any]:
        stats = self.stats
        assert stats is not None
        clock = time.perf_counter_ns

        def timed(*args: Any) -> Any:
            start = clock()
            result = call(*args)
            elapsed = clock() - start
            if isinstance(result, CacheError):
                stats.record(op, result.value, elapsed)
            elif op == "set":
                stats.record(op, "ok", elapsed, bytes_in=len(args[1]))
            else:
                stats.record(op, "ok", elapsed, bytes_out=len(result) if result else 0)
            return result

        return timed

    # --- the interface --------------------------------------------------------------------
    def set(self, key: str, value: bytes, ttl: int | None) -> CacheError | None:
        raw = self._key(key)
        if raw is None:
            return self._refuse("set", INVALID_KEY)
        if len(value) > self.limits.max_value_bytes:
            return self._refuse("set", CacheError.VALUE_TOO_LARGE)
        if self.policy is not UNRESTRICTED and not self.policy.may_write(key):
            return self._refuse("set", DENIED)
        try:
            if self.quota is not None and ttl != 0 and not self.quota.admits(raw, len(value)):
                return self._refuse("set", DENIED)
            if ttl == 0:  # expired at once: nothing may stay readable, older value included
                self.backend.delete(self.namespace, raw)
            else:
                self.backend.set(self.namespace, raw, bytes(value), ttl)
        except Exception as exc:  # noqa: BLE001 - the guest gets an error case, never a trap
            return self._fail("set", exc)
        if self.quota is not None:
            self.quota.stored(raw, None if ttl == 0 else len(value))
        return None

    def get(self, key: str) -> bytes | CacheError:
        raw = self._key(key)
        if raw is None:
            return self._refuse("get", INVALID_KEY)
        if self.policy is not UNRESTRICTED and not self.policy.may_read(key):
            return self._refuse("get", DENIED)
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
            return self._refuse("delete", INVALID_KEY)
        if self.policy is not UNRESTRICTED and not self.policy.may_write(key):
            return self._refuse("delete", DENIED)
        try:
            self.backend.delete(self.namespace, raw)
        except Exception as exc:  # noqa: BLE001
            return self._fail("delete", exc)
        if self.quota is not None:
            self.quota.stored(raw, None)
        return None
