"""Quotas: the most keys and bytes of values a guest may hold, over its namespace and buckets.

One `Quota` per running guest covers its namespace and every bucket it may open, through both
interfaces. A backend that can count (``usage(namespace) -> (keys, bytes)``) is asked at every
quota-checked write, so the quota holds across runs and across hosts sharing the store; for a
backend that cannot, this process counts what it wrote through that backend object (shared by
every guest of the process using it), which starts from zero when the process does. Two writers
at the same instant can both pass a check that only one should: a quota can be overshot by the
writes in flight.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Sequence

from .backend import Backend
from .policy import Policy

#: Per-process counts for backends without `usage`: backend -> namespace -> key -> value size.
_local_counts: weakref.WeakKeyDictionary[object, dict[str, dict[bytes, int]]] = (
    weakref.WeakKeyDictionary())
_local_lock = threading.Lock()


def _counts_of(backend: Backend) -> dict[str, dict[bytes, int]]:
    with _local_lock:
        try:
            return _local_counts.setdefault(backend, {})
        except TypeError:  # not weak-referenceable: count for this Quota only
            return {}


class Quota:
    """Decides whether writes fit `policy`'s quotas over `namespaces` (the guest's namespace and
    its buckets' namespaces, counted together)."""

    def __init__(self, backend: Backend, namespaces: Iterable[str], policy: Policy) -> None:
        self.backend = backend
        self.namespaces = tuple(dict.fromkeys(namespaces))
        self.max_keys = policy.max_keys
        self.max_bytes = policy.max_bytes
        self.shared = callable(getattr(backend, "usage", None))
        self._local = None if self.shared else _counts_of(backend)

    def usage(self) -> tuple[int, int]:
        """(keys, bytes of values) held over all of the guest's namespaces."""
        if self.shared:
            keys = total = 0
            for namespace in self.namespaces:
                k, b = self.backend.usage(namespace)  # type: ignore[attr-defined]
                keys, total = keys + k, total + b
            return keys, total
        assert self._local is not None
        with _local_lock:
            held = [self._local.get(namespace, {}) for namespace in self.namespaces]
            return sum(map(len, held)), sum(sum(sizes.values()) for sizes in held)

    def _old_size(self, namespace: str, key: bytes) -> int | None:
        if self.shared:
            old = self.backend.get(namespace, key)
            return None if old is None else len(old)
        assert self._local is not None
        return self._local.get(namespace, {}).get(key)

    def admits(self, namespace: str, writes: Sequence[tuple[bytes, int]]) -> bool:
        """True when storing each (key, size) of `writes` in `namespace` keeps the guest within
        its quotas (a batch is admitted or refused as a whole)."""
        keys, total = self.usage()
        for key, size in dict(writes).items():  # a key written twice counts once, last size
            old = self._old_size(namespace, key)
            keys += old is None
            total += size - (old or 0)
        if self.max_keys is not None and keys > self.max_keys:
            return False
        return self.max_bytes is None or total <= self.max_bytes

    def record(self, namespace: str, key: bytes, size: int | None) -> None:
        """Count a write (`size`) or a delete (None) for a backend without `usage`."""
        if self._local is None:
            return
        with _local_lock:
            sizes = self._local.setdefault(namespace, {})
            if size is None:
                sizes.pop(key, None)
            else:
                sizes[key] = size
