"""Per-guest policy: what a guest may touch, decided by the operator and enforced by the host.

The checks run in the core before a backend sees a call, so they are the same on every backend.
Quotas need to know what a namespace holds: a backend that can count (the optional
``usage(namespace) -> (keys, bytes)`` method) is asked at every quota-checked write, so the quota
holds across runs and across hosts sharing the store; for a backend that cannot, the host counts
what this process wrote, and the quota is per process.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .backend import Backend


class Access(enum.StrEnum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"
    NONE = "none"


@dataclass(frozen=True)
class Policy:
    """What one guest may do in its namespace."""

    access: Access = Access.READ_WRITE
    key_prefixes: tuple[str, ...] = ()
    max_keys: int | None = None
    max_bytes: int | None = None

    def may_read(self, key: str) -> bool:
        return self.access is not Access.NONE and self._prefix_ok(key)

    def may_write(self, key: str) -> bool:
        return self.access is Access.READ_WRITE and self._prefix_ok(key)

    def _prefix_ok(self, key: str) -> bool:
        return not self.key_prefixes or key.startswith(self.key_prefixes)

    @property
    def has_quota(self) -> bool:
        return self.max_keys is not None or self.max_bytes is not None


UNRESTRICTED = Policy()


class QuotaGuard:
    """Decides whether a write fits the namespace's quotas (most keys, most bytes of values)."""

    def __init__(self, backend: Backend, namespace: str, policy: Policy) -> None:
        self.backend = backend
        self.namespace = namespace
        self.max_keys = policy.max_keys
        self.max_bytes = policy.max_bytes
        self.shared = callable(getattr(backend, "usage", None))
        self._local: dict[bytes, int] = {}  # per-process fallback: key -> value size

    def usage(self) -> tuple[int, int]:
        if self.shared:
            return self.backend.usage(self.namespace)  # type: ignore[attr-defined]
        return len(self._local), sum(self._local.values())

    def admits(self, key: bytes, size: int) -> bool:
        """True when storing `size` bytes under `key` keeps the namespace within its quotas."""
        keys, total = self.usage()
        old = self.backend.get(self.namespace, key) if self.shared else None
        old_size = len(old) if old is not None else self._local.get(key)
        exists = old_size is not None
        if self.max_keys is not None and keys + (0 if exists else 1) > self.max_keys:
            return False
        return self.max_bytes is None or total - (old_size or 0) + size <= self.max_bytes

    def stored(self, key: bytes, size: int | None) -> None:
        """Record a write (size) or a delete (None) for the per-process count."""
        if self.shared:
            return
        if size is None:
            self._local.pop(key, None)
        else:
            self._local[key] = size
