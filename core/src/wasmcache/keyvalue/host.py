"""The wasi:keyvalue host side: that interface's shapes over the one `GuestSession`.

Every check (key, size, policy, quota, backend faults) is the session's; this module only turns
its answers into what wasi:keyvalue returns: ``not-found`` becomes ``none``, a refused bucket
``no-such-store``, the other errors ``access-denied`` or ``other(message)`` with a fixed line
that never carries a URL, key or value, and a compare-and-swap becomes a `Cas` object.
`KeyValueHost` methods never raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..buckets import Bucket
from ..errors import BadRequest, CacheError
from ..session import GuestSession

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
class Cas:
    """A compare-and-swap in progress: the value seen when it was made (None: absent)."""

    bucket: Bucket
    key: str
    current: bytes | None


@dataclass(frozen=True)
class CasFailed:
    """`cas-error.cas-failed`: the swap lost; `cas` holds the value that won."""

    cas: Cas


class KeyValueHost:
    """wasi:keyvalue store, atomics and batch for one guest, over its `GuestSession`."""

    def __init__(self, session: GuestSession) -> None:
        self.session = session

    @property
    def namespace(self) -> str:
        return self.session.namespace

    def error(self, error: CacheError | BadRequest) -> KvError:
        """The wasi:keyvalue error for one of the session's answers."""
        if isinstance(error, BadRequest):
            return KvError("other", error.message)
        if error is CacheError.ACCESS_DENIED:
            return ACCESS_DENIED
        limits = self.session.limits
        if error is CacheError.INVALID_KEY:
            return KvError("other", f"invalid key: keys are 1 to {limits.max_key_bytes} "
                                    "bytes of UTF-8")
        if error is CacheError.VALUE_TOO_LARGE:
            return KvError("other", f"value too large: values are at most "
                                    f"{limits.max_value_bytes} bytes")
        if error is CacheError.UNAVAILABLE:
            return KvError("other", UNAVAILABLE_MESSAGE)
        return KvError("other", INTERNAL_MESSAGE)

    def _done(self, result: CacheError | None) -> KvError | None:
        return None if result is None else self.error(result)

    # --- store ----------------------------------------------------------------------------
    def open(self, identifier: str) -> Bucket | KvError:
        bucket = self.session.open(identifier)
        return NO_SUCH_STORE if isinstance(bucket, CacheError) else bucket

    def get(self, bucket: Bucket, key: str) -> bytes | None | KvError:
        result = self.session.get(key, bucket)
        if result.__class__ is bytes:
            return result  # type: ignore[return-value]
        return None if result is CacheError.NOT_FOUND else self.error(result)  # type: ignore

    def set(self, bucket: Bucket, key: str, value: bytes) -> KvError | None:
        return self._done(self.session.set(key, value, None, bucket))

    def delete(self, bucket: Bucket, key: str) -> KvError | None:
        return self._done(self.session.delete(key, bucket))

    def exists(self, bucket: Bucket, key: str) -> bool | KvError:
        result = self.session.exists(key, bucket)
        return result if isinstance(result, bool) else self.error(result)

    def list_keys(self, bucket: Bucket,
                  cursor: str | None) -> tuple[list[str], str | None] | KvError:
        """One page of keys; keys outside the guest's key prefixes are left out."""
        result = self.session.list_keys(bucket, cursor)
        return result if isinstance(result, tuple) else self.error(result)

    # --- atomics --------------------------------------------------------------------------
    def increment(self, bucket: Bucket, key: str, delta: int) -> int | KvError:
        result = self.session.increment(key, delta, bucket)
        return result if isinstance(result, int) else self.error(result)

    def cas_new(self, bucket: Bucket, key: str) -> Cas | KvError:
        current = self.session.read_for_swap(key, bucket)
        if isinstance(current, CacheError):
            return self.error(current)
        return Cas(bucket, key, current)

    def swap(self, cas: Cas, value: bytes) -> KvError | CasFailed | None:
        """None when `value` replaced what `cas` saw; `CasFailed` with a fresh cas when the
        value had changed; a `KvError` otherwise."""
        result = self.session.swap(cas.key, cas.current, value, cas.bucket)
        if result is True:
            return None
        if isinstance(result, CacheError):
            return self.error(result)
        fresh = self.cas_new(cas.bucket, cas.key)
        return fresh if isinstance(fresh, KvError) else CasFailed(fresh)

    # --- batch ----------------------------------------------------------------------------
    def get_many(self, bucket: Bucket,
                 keys: Sequence[str]) -> list[tuple[str, bytes] | None] | KvError:
        values = self.session.get_many(keys, bucket)
        if isinstance(values, CacheError):
            return self.error(values)
        return [None if value is None else (key, value)
                for key, value in zip(keys, values, strict=True)]

    def set_many(self, bucket: Bucket, items: Sequence[tuple[str, bytes]]) -> KvError | None:
        return self._done(self.session.set_many(items, bucket))

    def delete_many(self, bucket: Bucket, keys: Sequence[str]) -> KvError | None:
        return self._done(self.session.delete_many(keys, bucket))


__all__ = ["ACCESS_DENIED", "NO_SUCH_STORE", "Cas", "CasFailed", "KeyValueHost", "KvError"]
