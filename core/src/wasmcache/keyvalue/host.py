"""The wasi:keyvalue host side: buckets, policy, limits and error mapping, once for all backends.

`KeyValueHost` methods take and return what crosses the component boundary and never raise, so
a backend fault never traps the guest: each returns its ok payload or a `KvError`. A bucket is a
`CacheHost` on the bucket's namespace, so get/set/delete share the cache interface's key and
value limits, access rules, key prefixes, quotas and statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..backend import Backend
from ..errors import CacheError
from ..host import CacheHost
from ..limits import DEFAULT_NAMESPACE, Limits, validate_namespace
from ..policy import UNRESTRICTED, Access, Policy
from ..stats import Stats
from .buckets import DEFAULT_BUCKET, DEFAULT_PAGE_SIZE, bucket_namespace
from .capabilities import CounterOverflow, KeyValueOps, NotACounter

log = logging.getLogger("wasmcache.keyvalue")

UNAVAILABLE_MESSAGE = "backend unavailable: the store cannot be reached now; retry later"
INTERNAL_MESSAGE = "backend error: the host's log has the details"


@dataclass(frozen=True)
class KvError:
    """`wasi:keyvalue/store.error`: ``no-such-store``, ``access-denied`` or ``other(message)``."""

    case: str
    message: str | None = None


NO_SUCH_STORE = KvError("no-such-store")
ACCESS_DENIED = KvError("access-denied")


@dataclass
class Bucket:
    """An opened bucket: its identifier and the `CacheHost` on its namespace."""

    name: str
    cache: CacheHost


@dataclass
class Cas:
    """A compare-and-swap in progress: the value seen when it was made (None: absent)."""

    bucket: Bucket
    key: str
    current: bytes | None


@dataclass(frozen=True)
class CasFailed:
    """`cas-error.cas-failed`: the swap lost; `cas` holds the value that won."""

    cas: Cas


@dataclass
class KeyValueHost:
    """One guest's view of wasi:keyvalue over a backend."""

    backend: Backend
    namespace: str = DEFAULT_NAMESPACE
    limits: Limits = field(default_factory=Limits)
    policy: Policy = UNRESTRICTED
    buckets: tuple[str, ...] = ()
    page_size: int = DEFAULT_PAGE_SIZE
    stats: Stats | None = None

    def __post_init__(self) -> None:
        validate_namespace(self.namespace)
        self.allowed = {DEFAULT_BUCKET: bucket_namespace(self.namespace, DEFAULT_BUCKET)}
        for name in self.buckets:
            self.allowed[name] = bucket_namespace(self.namespace, name)
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.ops = KeyValueOps(self.backend)
        self._caches: dict[str, CacheHost] = {}

    # --- helpers --------------------------------------------------------------------------
    def _cache(self, name: str) -> CacheHost:
        cache = self._caches.get(name)
        if cache is None:  # setdefault: two threads opening a bucket at once share one
            cache = self._caches.setdefault(name, CacheHost(
                self.backend, self.allowed[name], self.limits, self.policy, self.stats))
        return cache

    def _mapped(self, error: CacheError) -> KvError:
        if error is CacheError.ACCESS_DENIED:
            return ACCESS_DENIED
        if error is CacheError.INVALID_KEY:
            return KvError("other", f"invalid key: keys are 1 to {self.limits.max_key_bytes} "
                                    "bytes of UTF-8")
        if error is CacheError.VALUE_TOO_LARGE:
            return KvError("other", f"value too large: values are at most "
                                    f"{self.limits.max_value_bytes} bytes")
        if error is CacheError.UNAVAILABLE:
            return KvError("other", UNAVAILABLE_MESSAGE)
        return KvError("other", INTERNAL_MESSAGE)

    def _fault(self, op: str, bucket: Bucket, exc: BaseException) -> KvError:
        """A backend exception as `other`: logged in full here, never shown to the guest."""
        if isinstance(exc, NotACounter | CounterOverflow):
            return KvError("other", str(exc))
        if isinstance(exc, NotImplementedError):
            return KvError("other", str(exc))
        error = bucket.cache._fail(op, exc)  # logs with the namespace, never the value
        return self._mapped(error)

    def _key(self, bucket: Bucket, key: str, write: bool) -> bytes | KvError:
        raw = bucket.cache._key(key)
        if raw is None:
            return self._mapped(CacheError.INVALID_KEY)
        policy = bucket.cache.policy
        if policy is not UNRESTRICTED and not (policy.may_write(key) if write
                                               else policy.may_read(key)):
            return ACCESS_DENIED
        return raw

    def _quota_admits(self, bucket: Bucket, raw: bytes, size: int) -> bool:
        quota = bucket.cache.quota
        return quota is None or quota.admits(raw, size)

    # --- store ----------------------------------------------------------------------------
    def open(self, identifier: str) -> Bucket | KvError:
        if identifier not in self.allowed:
            log.info("open of bucket %r in namespace %s refused: not in the guest's profile",
                     identifier, self.namespace)
            return NO_SUCH_STORE
        return Bucket(identifier, self._cache(identifier))

    def get(self, bucket: Bucket, key: str) -> bytes | None | KvError:
        result = bucket.cache.get(key)
        if isinstance(result, CacheError):
            return None if result is CacheError.NOT_FOUND else self._mapped(result)
        return result

    def set(self, bucket: Bucket, key: str, value: bytes) -> KvError | None:
        result = bucket.cache.set(key, value, None)
        return None if result is None else self._mapped(result)

    def delete(self, bucket: Bucket, key: str) -> KvError | None:
        result = bucket.cache.delete(key)
        return None if result is None else self._mapped(result)

    def exists(self, bucket: Bucket, key: str) -> bool | KvError:
        result = self.get(bucket, key)
        return result if isinstance(result, KvError) else result is not None

    def list_keys(self, bucket: Bucket,
                  cursor: str | None) -> tuple[list[str], str | None] | KvError:
        """One page of keys; keys outside the guest's key prefixes are left out."""
        policy = bucket.cache.policy
        if policy.access is Access.NONE:
            return ACCESS_DENIED
        try:
            raws, next_cursor = self.ops.list_keys(bucket.cache.namespace, cursor or None,
                                                   self.page_size)
        except ValueError:
            return KvError("other", "invalid cursor: pass back the cursor of the last page")
        except Exception as exc:  # noqa: BLE001 - the guest gets an error case, never a trap
            return self._fault("list-keys", bucket, exc)
        keys = []
        for raw in raws:
            try:
                key = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue  # not written through wasmcache; a string cannot carry it
            if policy.may_read(key):
                keys.append(key)
        return keys, next_cursor

    # --- atomics --------------------------------------------------------------------------
    def increment(self, bucket: Bucket, key: str, delta: int) -> int | KvError:
        raw = self._key(bucket, key, write=True)
        if isinstance(raw, KvError):
            return raw
        try:
            if not self._quota_admits(bucket, raw, 20):
                return ACCESS_DENIED
            return self.ops.increment(bucket.cache.namespace, raw, delta)
        except Exception as exc:  # noqa: BLE001
            return self._fault("increment", bucket, exc)

    def cas_new(self, bucket: Bucket, key: str) -> Cas | KvError:
        raw = self._key(bucket, key, write=False)
        if isinstance(raw, KvError):
            return raw
        try:
            current = self.backend.get(bucket.cache.namespace, raw)
        except Exception as exc:  # noqa: BLE001
            return self._fault("cas", bucket, exc)
        return Cas(bucket, key, None if current is None else bytes(current))

    def swap(self, cas: Cas, value: bytes) -> KvError | CasFailed | None:
        """None when `value` replaced what `cas` saw; `CasFailed` with a fresh cas when the
        value had changed; a `KvError` otherwise."""
        bucket = cas.bucket
        raw = self._key(bucket, cas.key, write=True)
        if isinstance(raw, KvError):
            return raw
        if len(value) > self.limits.max_value_bytes:
            return self._mapped(CacheError.VALUE_TOO_LARGE)
        try:
            if not self._quota_admits(bucket, raw, len(value)):
                return ACCESS_DENIED
            if self.ops.compare_and_swap(bucket.cache.namespace, raw, cas.current, bytes(value)):
                return None
        except Exception as exc:  # noqa: BLE001
            return self._fault("swap", bucket, exc)
        fresh = self.cas_new(bucket, cas.key)
        return fresh if isinstance(fresh, KvError) else CasFailed(fresh)

    # --- batch ----------------------------------------------------------------------------
    def _keys(self, bucket: Bucket, keys: Sequence[str], write: bool) -> list[bytes] | KvError:
        raws = []
        for key in keys:
            raw = self._key(bucket, key, write)
            if isinstance(raw, KvError):
                return raw
            raws.append(raw)
        return raws

    def get_many(self, bucket: Bucket,
                 keys: Sequence[str]) -> list[tuple[str, bytes] | None] | KvError:
        raws = self._keys(bucket, keys, write=False)
        if isinstance(raws, KvError):
            return raws
        try:
            values = self.ops.get_many(bucket.cache.namespace, raws)
        except Exception as exc:  # noqa: BLE001
            return self._fault("get-many", bucket, exc)
        return [None if value is None else (key, bytes(value))
                for key, value in zip(keys, values, strict=True)]

    def set_many(self, bucket: Bucket,
                 items: Sequence[tuple[str, bytes]]) -> KvError | None:
        raws = self._keys(bucket, [key for key, _ in items], write=True)
        if isinstance(raws, KvError):
            return raws
        if any(len(value) > self.limits.max_value_bytes for _, value in items):
            return self._mapped(CacheError.VALUE_TOO_LARGE)
        if bucket.cache.quota is not None:  # quotas count key by key
            for key, value in items:
                error = self.set(bucket, key, value)
                if error is not None:
                    return error
            return None
        try:
            self.ops.set_many(bucket.cache.namespace,
                              [(raw, bytes(value)) for raw, (_, value) in zip(raws, items,
                                                                             strict=True)])
        except Exception as exc:  # noqa: BLE001
            return self._fault("set-many", bucket, exc)
        return None

    def delete_many(self, bucket: Bucket, keys: Sequence[str]) -> KvError | None:
        raws = self._keys(bucket, keys, write=True)
        if isinstance(raws, KvError):
            return raws
        try:
            self.ops.delete_many(bucket.cache.namespace, raws)
        except Exception as exc:  # noqa: BLE001
            return self._fault("delete-many", bucket, exc)
        if bucket.cache.quota is not None:
            for raw in raws:
                bucket.cache.quota.stored(raw, None)
        return None


__all__ = ["ACCESS_DENIED", "NO_SUCH_STORE", "Bucket", "Cas", "CasFailed", "KeyValueHost",
           "KvError"]
