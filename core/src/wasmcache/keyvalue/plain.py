"""wasi:keyvalue with plain ids instead of resources: what the keyvalue adapter's private
interface (`wasmcache.wire.keyvalue.KEYVALUE`) calls.

The adapter owns the guest's ``bucket`` and ``cas`` handles; their reps are ids this object
hands out: a bucket's id is its index among the session's buckets (nothing to drop: the name
and namespace are the session's), a cas's id is an entry in a table, removed when the guest
drops the handle (``drop-cas``) or when ``swap`` consumes it. Every answer is `KeyValueHost`'s,
so every check is still the `GuestSession`'s. An id the adapter could not have sent (only a
caller that is not wasmcache's adapter can) raises `WireError`: the call traps with one line.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..buckets import Bucket
from ..wire import WireError
from .host import Cas, CasFailed, KeyValueHost, KvError
from .linker import _Table


class PlainKeyValue:
    """The private keyvalue interface's functions for one guest, over its `KeyValueHost`."""

    def __init__(self, host: KeyValueHost) -> None:
        self.host = host
        self.buckets: tuple[Bucket, ...] = tuple(host.session.buckets.values())
        self._bucket_ids = {bucket.name: index for index, bucket in enumerate(self.buckets)}
        self.cases: _Table[Cas] = _Table()

    def _bucket(self, bucket_id: int) -> Bucket:
        if 0 <= bucket_id < len(self.buckets):
            return self.buckets[bucket_id]
        raise WireError(f"unknown bucket id {bucket_id}; only wasmcache's adapter may call "
                        "this interface")

    def _cas(self, cas_id: int, consume: bool = False) -> Cas:
        try:
            cas = self.cases.pop(cas_id) if consume else self.cases.get(cas_id)
        except KeyError:
            cas = None
        if cas is None:
            raise WireError(f"unknown cas id {cas_id}; only wasmcache's adapter may call this "
                            "interface")
        return cas

    # --- store ----------------------------------------------------------------------------
    def open(self, name: str) -> int | KvError:
        bucket = self.host.open(name)
        return bucket if isinstance(bucket, KvError) else self._bucket_ids[bucket.name]

    def get(self, bucket_id: int, key: str) -> bytes | None | KvError:
        return self.host.get(self._bucket(bucket_id), key)

    def set(self, bucket_id: int, key: str, value: bytes) -> KvError | None:
        return self.host.set(self._bucket(bucket_id), key, value)

    def delete(self, bucket_id: int, key: str) -> KvError | None:
        return self.host.delete(self._bucket(bucket_id), key)

    def exists(self, bucket_id: int, key: str) -> bool | KvError:
        return self.host.exists(self._bucket(bucket_id), key)

    def list_keys(self, bucket_id: int,
                  cursor: str | None) -> tuple[list[str], str | None] | KvError:
        return self.host.list_keys(self._bucket(bucket_id), cursor)

    # --- atomics --------------------------------------------------------------------------
    def increment(self, bucket_id: int, key: str, delta: int) -> int | KvError:
        return self.host.increment(self._bucket(bucket_id), key, delta)

    def cas_new(self, bucket_id: int, key: str) -> int | KvError:
        cas = self.host.cas_new(self._bucket(bucket_id), key)
        return cas if isinstance(cas, KvError) else self.cases.add(cas)

    def cas_current(self, cas_id: int) -> bytes | None:
        """The value the cas saw when it was made (no new read)."""
        return self._cas(cas_id).current

    def drop_cas(self, cas_id: int) -> None:
        """The guest dropped its handle (an unknown id is ignored: there is nothing to free)."""
        self.cases.pop(cas_id)

    def swap(self, cas_id: int, value: bytes) -> int | KvError | None:
        """None when `value` was stored; the id of a fresh cas when another writer changed the
        value first (cas-failed); a `KvError` otherwise. The cas is consumed either way."""
        result = self.host.swap(self._cas(cas_id, consume=True), value)
        if isinstance(result, CasFailed):
            return self.cases.add(result.cas)
        return result

    # --- batch ----------------------------------------------------------------------------
    def get_many(self, bucket_id: int, keys: Sequence[str]) -> list[bytes | None] | KvError:
        """The value of each key (None when absent), in order: the adapter pairs them with the
        guest's keys, so they do not cross back."""
        values = self.host.session.get_many(keys, self._bucket(bucket_id))
        return values if isinstance(values, list) else self.host.error(values)

    def set_many(self, bucket_id: int, items: Sequence[tuple[str, bytes]]) -> KvError | None:
        return self.host.set_many(self._bucket(bucket_id), items)

    def delete_many(self, bucket_id: int, keys: Sequence[str]) -> KvError | None:
        return self.host.delete_many(self._bucket(bucket_id), keys)


__all__ = ["PlainKeyValue"]
