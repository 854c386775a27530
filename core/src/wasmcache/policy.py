"""Per-guest policy: what a guest may touch, decided by the operator and enforced by the host.

The checks run in `GuestSession` before a backend sees a call, so they are the same on every
backend and through both interfaces. Quotas are in `wasmcache.quota`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Access(enum.StrEnum):
    READ_WRITE = "read-write"
    READ_ONLY = "read-only"
    NONE = "none"


@dataclass(frozen=True)
class Policy:
    """What one guest may do in its namespace and buckets."""

    access: Access = Access.READ_WRITE
    key_prefixes: tuple[str, ...] = ()
    max_keys: int | None = None
    max_bytes: int | None = None
    #: False when every key may be read and written: the per-call checks are then skipped
    restricts_keys: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "restricts_keys",
                           self.access is not Access.READ_WRITE or bool(self.key_prefixes))

    def may_read(self, key: str) -> bool:
        return self.access is not Access.NONE and self._prefix_ok(key)

    def may_write(self, key: str) -> bool:
        return self.access is Access.READ_WRITE and self._prefix_ok(key)

    def refusal(self, key: str, write: bool) -> str | None:
        """Why `key` may not be read (or written), for logs and telemetry; None if it may."""
        if self.access is Access.NONE:
            return "access-none"
        if write and self.access is Access.READ_ONLY:
            return "read-only"
        if not self._prefix_ok(key):
            return "key-prefix"
        return None

    def _prefix_ok(self, key: str) -> bool:
        return not self.key_prefixes or key.startswith(self.key_prefixes)

    @property
    def has_quota(self) -> bool:
        return self.max_keys is not None or self.max_bytes is not None


UNRESTRICTED = Policy()
