"""`GuestSession`: the one object every guest call goes through.

One session per running guest holds what the operator decided for it (namespace and buckets,
limits, policy, quota) and answers every operation of both interfaces: wasmcache:cache's set /
get / delete are the default bucket's, the very calls wasi:keyvalue's ``default`` bucket makes,
and every wasi:keyvalue operation has its method here (`wasmcache.keyvalue.KeyValueHost` adds
only that interface's shapes: resources, ``option``, ``other(message)``). Each check is written
once, in the order the contract gives:

1. the key (`_valid_key`): 1 to ``max_key_bytes`` bytes of UTF-8, else ``invalid-key``;
2. the value's size: at most ``max_value_bytes``, else ``value-too-large``;
3. the policy (`_denied`, `Policy.refusal`): access mode and key prefixes, else
   ``access-denied``;
4. the quota (`Quota.admits`), over the namespace and all buckets together, for every write
   that can create a key or grow a value (set, set-many, increment, swap), else
   ``access-denied``;
5. the backend: `BackendUnavailable` becomes ``unavailable`` and any other exception
   ``internal`` (`_failed`), logged with the namespace and operation, never the value.

Methods never raise: they return the ok result, a `CacheError` or a `BadRequest`. A session
with an observer (`wasmcache.observe`) is an `ObservedSession`, which times every operation in
one wrapper; a session without one measures nothing.
"""

from __future__ import annotations

import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from .backend import Backend
from .buckets import DEFAULT_BUCKET, DEFAULT_PAGE_SIZE, Bucket, bucket_namespace
from .capabilities import CounterOverflow, KeyValueOps, NotACounter
from .errors import BackendUnavailable, BadRequest, CacheError
from .limits import DEFAULT_NAMESPACE, Limits, validate_namespace
from .observe import Call, Observer, bound
from .policy import UNRESTRICTED, Access, Policy
from .quota import Quota

log = logging.getLogger("wasmcache.session")

#: The most bytes a counter's decimal takes ("-9223372036854775808"): what an increment may add.
COUNTER_BYTES = 20
NOT_FOUND = CacheError.NOT_FOUND
INVALID_KEY = CacheError.INVALID_KEY
TOO_LARGE = CacheError.VALUE_TOO_LARGE
DENIED = CacheError.ACCESS_DENIED

F = TypeVar("F", bound=Callable[..., Any])


def operation(name: str, *, sent: str | None = None, received: bool = False,
              batch: str | None = None) -> Callable[[F], F]:
    """Mark a method as a guest operation `name` for `ObservedSession`.

    :param sent: the parameter carrying payload bytes from the guest (a value, or items)
    :param received: the result carries payload bytes to the guest
    :param batch: the parameter holding a batch's keys or items
    """

    def mark(method: F) -> F:
        method.__wasmcache_operation__ = (name, sent, received, batch)  # type: ignore[attr-defined]
        return method

    return mark


class GuestSession:
    """One guest's view of a backend, through both interfaces."""

    def __new__(cls, *args: Any, observer: Observer | None = None,
                **kwargs: Any) -> GuestSession:
        if observer is not None and cls is GuestSession:
            cls = ObservedSession
        return super().__new__(cls)

    def __init__(self, backend: Backend, namespace: str = DEFAULT_NAMESPACE,
                 limits: Limits | None = None, policy: Policy = UNRESTRICTED, *,
                 buckets: Iterable[str] = (), keys_per_page: int = DEFAULT_PAGE_SIZE,
                 observer: Observer | None = None) -> None:
        """`buckets`: the wasi:keyvalue buckets the guest may open besides ``default``
        (a `WasmcacheError` when one cannot be a bucket of `namespace`)."""
        if keys_per_page < 1:
            raise ValueError("keys_per_page must be at least 1")
        self.backend = backend
        self.namespace = validate_namespace(namespace)
        self.limits = limits or Limits()
        self.policy = policy
        self.keys_per_page = keys_per_page
        self.observer = bound(observer, backend)
        self.buckets = {name: Bucket(name, bucket_namespace(self.namespace, name))
                        for name in (DEFAULT_BUCKET, *buckets)}
        self.default = self.buckets[DEFAULT_BUCKET]
        self.ops = KeyValueOps(backend)
        self.quota = (Quota(backend, [b.namespace for b in self.buckets.values()], policy)
                      if policy.has_quota else None)
        #: why this thread's call in progress was refused (read by `ObservedSession`); runs of
        #: one guest may share a session from several threads
        self._refusal = threading.local() if observer is not None else None

    # --- the checks -----------------------------------------------------------------------
    def _refuse(self, op: str, namespace: str, error: CacheError,
                reason: str | None = None) -> CacheError:
        log.info("%s in namespace %s refused: %s%s", op, namespace, error.value,
                 f" ({reason})" if reason else "")
        if self._refusal is not None:
            self._refusal.reason = reason
        return error

    def _valid_key(self, op: str, namespace: str, key: str) -> bytes | CacheError:
        """The key's UTF-8 if it is 1 to ``max_key_bytes`` bytes long, else ``invalid-key``."""
        try:
            raw = key.encode("utf-8")
        except (UnicodeEncodeError, AttributeError):  # a lone surrogate is not UTF-8
            return self._refuse(op, namespace, INVALID_KEY)
        if 0 < len(raw) <= self.limits.max_key_bytes:
            return raw
        return self._refuse(op, namespace, INVALID_KEY)

    def _denied(self, op: str, namespace: str, keys: Iterable[str],
                write: bool) -> CacheError | None:
        """``access-denied`` when the policy refuses one of `keys` (only called when the policy
        `restricts_keys`), else None."""
        for key in keys:
            reason = self.policy.refusal(key, write)
            if reason is not None:
                return self._refuse(op, namespace, DENIED, reason)
        return None

    def _checked(self, op: str, bucket: Bucket | None, key: str, write: bool,
                 size: int | None = None) -> tuple[str, bytes | CacheError]:
        """(the namespace, the key's UTF-8) of a call, or the error that refuses it: the key,
        then the value's `size`, then the policy, as the contract orders them."""
        namespace = self.namespace if bucket is None else bucket.namespace
        raw = self._valid_key(op, namespace, key)
        if raw.__class__ is not bytes:
            return namespace, raw
        if size is not None and size > self.limits.max_value_bytes:
            return namespace, self._refuse(op, namespace, TOO_LARGE)
        if self.policy.restricts_keys and self._denied(op, namespace, (key,), write):
            return namespace, DENIED
        return namespace, raw

    def _checked_many(self, op: str, bucket: Bucket | None, keys: Sequence[str], write: bool,
                      sizes: Iterable[int] = ()) -> tuple[str, list[bytes] | CacheError]:
        """`_checked` for a batch: one refused key (or value) refuses the whole batch."""
        namespace = self.namespace if bucket is None else bucket.namespace
        raws = []
        for key in keys:
            raw = self._valid_key(op, namespace, key)
            if raw.__class__ is not bytes:
                return namespace, raw  # type: ignore[return-value]
            raws.append(raw)
        if any(size > self.limits.max_value_bytes for size in sizes):
            return namespace, self._refuse(op, namespace, TOO_LARGE)
        if self.policy.restricts_keys and self._denied(op, namespace, keys, write):
            return namespace, DENIED
        return namespace, raws  # type: ignore[return-value]

    def _admits(self, namespace: str, writes: Sequence[tuple[bytes, int]]) -> bool:
        return self.quota is None or self.quota.admits(namespace, writes)

    def _stored(self, namespace: str, key: bytes, size: int | None) -> None:
        if self.quota is not None:
            self.quota.record(namespace, key, size)

    def _failed(self, op: str, namespace: str, exc: BaseException) -> CacheError:
        """A backend exception as the guest sees it; the details go to the log only."""
        if isinstance(exc, BackendUnavailable):
            log.warning("%s in namespace %s: backend unavailable: %s", op, namespace, exc)
            return CacheError.UNAVAILABLE
        log.warning("%s in namespace %s: backend error: %s: %s",
                    op, namespace, type(exc).__name__, exc)
        return CacheError.INTERNAL

    # --- store: open, get / set / delete (wasmcache:cache, and wasi:keyvalue's bucket) ----
    @operation("open")
    def open(self, name: str) -> Bucket | CacheError:
        """The bucket `name` if the guest's profile lets it open it, else ``access-denied``
        (which wasi:keyvalue reports as no-such-store: a guest cannot tell the two apart)."""
        bucket = self.buckets.get(name)
        if bucket is None:
            return self._refuse("open", self.namespace, DENIED, "bucket")
        return bucket

    @operation("set", sent="value")
    def set(self, key: str, value: bytes, ttl: int | None = None,
            bucket: Bucket | None = None) -> CacheError | None:
        """Store `value`; a ttl of 0 is expired at once (an older value is deleted too)."""
        namespace, raw = self._checked("set", bucket, key, True, len(value))
        if raw.__class__ is not bytes:
            return raw  # type: ignore[return-value]
        try:
            if ttl == 0:
                self.backend.delete(namespace, raw)  # type: ignore[arg-type]
            elif self.quota is not None and not self.quota.admits(namespace,
                                                                  [(raw, len(value))]):
                return self._refuse("set", namespace, DENIED, "quota")
            else:
                self.backend.set(namespace, raw, bytes(value), ttl)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - the guest gets an error case, never a trap
            return self._failed("set", namespace, exc)
        if self.quota is not None:
            self.quota.record(namespace, raw, None if ttl == 0 else len(value))  # type: ignore
        return None

    @operation("get", received=True)
    def get(self, key: str, bucket: Bucket | None = None) -> bytes | CacheError:
        """The value, or ``not-found`` when it is missing or expired."""
        namespace, raw = self._checked("get", bucket, key, False)
        if raw.__class__ is not bytes:
            return raw
        try:
            value = self.backend.get(namespace, raw)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            return self._failed("get", namespace, exc)
        return NOT_FOUND if value is None else bytes(value)

    @operation("delete")
    def delete(self, key: str, bucket: Bucket | None = None) -> CacheError | None:
        """Remove the key; a missing key is not an error."""
        namespace, raw = self._checked("delete", bucket, key, True)
        if raw.__class__ is not bytes:
            return raw  # type: ignore[return-value]
        try:
            self.backend.delete(namespace, raw)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            return self._failed("delete", namespace, exc)
        self._stored(namespace, raw, None)  # type: ignore[arg-type]
        return None

    @operation("exists")
    def exists(self, key: str, bucket: Bucket | None = None) -> bool | CacheError:
        namespace, raw = self._checked("exists", bucket, key, False)
        if raw.__class__ is not bytes:
            return raw  # type: ignore[return-value]
        try:
            return self.backend.get(namespace, raw) is not None  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            return self._failed("exists", namespace, exc)

    @operation("list-keys")
    def list_keys(self, bucket: Bucket, cursor: str | None
                  ) -> tuple[list[str], str | None] | CacheError | BadRequest:
        """One page of keys (at most about `keys_per_page`) after `cursor`; keys the guest may
        not read (outside its key prefixes) are left out."""
        namespace = bucket.namespace
        if self.policy.access is Access.NONE:
            return self._refuse("list-keys", namespace, DENIED, "access-none")
        try:
            raws, next_cursor = self.ops.list_keys(namespace, cursor or None, self.keys_per_page)
        except NotImplementedError as exc:
            return BadRequest(str(exc))
        except ValueError:
            return BadRequest("invalid cursor: pass back the cursor of the last page")
        except Exception as exc:  # noqa: BLE001
            return self._failed("list-keys", namespace, exc)
        keys = []
        for raw in raws:
            try:
                key = raw.decode("utf-8")
            except UnicodeDecodeError:
                continue  # not written through wasmcache; a string cannot carry it
            if self.policy.may_read(key):
                keys.append(key)
        return keys, next_cursor

    # --- atomics --------------------------------------------------------------------------
    @operation("increment")
    def increment(self, key: str, delta: int,
                  bucket: Bucket | None = None) -> int | CacheError | BadRequest:
        """Add `delta` to the decimal counter under `key` (0 when missing); the new value."""
        namespace, raw = self._checked("increment", bucket, key, True)
        if raw.__class__ is not bytes:
            return raw  # type: ignore[return-value]
        try:
            if not self._admits(namespace, [(raw, COUNTER_BYTES)]):  # type: ignore[list-item]
                return self._refuse("increment", namespace, DENIED, "quota")
            new = self.ops.increment(namespace, raw, delta)  # type: ignore[arg-type]
        except (NotACounter, CounterOverflow) as exc:
            return BadRequest(str(exc))
        except Exception as exc:  # noqa: BLE001
            return self._failed("increment", namespace, exc)
        self._stored(namespace, raw, len(str(new)))  # type: ignore[arg-type]
        return new

    @operation("cas-new", received=True)
    def read_for_swap(self, key: str, bucket: Bucket | None = None) -> bytes | None | CacheError:
        """The value a compare-and-swap starts from (None: the key is absent)."""
        namespace, raw = self._checked("cas-new", bucket, key, False)
        if raw.__class__ is not bytes:
            return raw  # type: ignore[return-value]
        try:
            current = self.backend.get(namespace, raw)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001
            return self._failed("cas-new", namespace, exc)
        return None if current is None else bytes(current)

    @operation("swap", sent="value")
    def swap(self, key: str, expected: bytes | None, value: bytes,
             bucket: Bucket | None = None) -> bool | CacheError:
        """Store `value` only if the key still holds `expected` (None: is still absent);
        False when another writer changed it first."""
        namespace, raw = self._checked("swap", bucket, key, True, len(value))
        if raw.__class__ is not bytes:
            return raw  # type: ignore[return-value]
        try:
            if not self._admits(namespace, [(raw, len(value))]):  # type: ignore[list-item]
                return self._refuse("swap", namespace, DENIED, "quota")
            swapped = self.ops.compare_and_swap(namespace, raw, expected,  # type: ignore[arg-type]
                                                bytes(value))
        except Exception as exc:  # noqa: BLE001
            return self._failed("swap", namespace, exc)
        if swapped:
            self._stored(namespace, raw, len(value))  # type: ignore[arg-type]
        return swapped

    # --- batch ----------------------------------------------------------------------------
    @operation("get-many", received=True, batch="keys")
    def get_many(self, keys: Sequence[str],
                 bucket: Bucket | None = None) -> list[bytes | None] | CacheError:
        """The value of each key (None when missing), in order."""
        namespace, raws = self._checked_many("get-many", bucket, keys, False)
        if isinstance(raws, CacheError):
            return raws
        try:
            values = self.ops.get_many(namespace, raws)
        except Exception as exc:  # noqa: BLE001
            return self._failed("get-many", namespace, exc)
        return [None if value is None else bytes(value) for value in values]

    @operation("set-many", sent="items", batch="items")
    def set_many(self, items: Sequence[tuple[str, bytes]],
                 bucket: Bucket | None = None) -> CacheError | None:
        """Store every (key, value), never expiring; one refused item refuses the batch."""
        namespace, raws = self._checked_many("set-many", bucket, [key for key, _ in items],
                                             True, (len(value) for _, value in items))
        if isinstance(raws, CacheError):
            return raws
        writes = [(raw, bytes(value)) for raw, (_, value) in zip(raws, items, strict=True)]
        try:
            if writes and not self._admits(namespace, [(raw, len(value))
                                                       for raw, value in writes]):
                return self._refuse("set-many", namespace, DENIED, "quota")
            self.ops.set_many(namespace, writes)
        except Exception as exc:  # noqa: BLE001
            return self._failed("set-many", namespace, exc)
        for raw, value in writes:
            self._stored(namespace, raw, len(value))
        return None

    @operation("delete-many", batch="keys")
    def delete_many(self, keys: Sequence[str], bucket: Bucket | None = None) -> CacheError | None:
        namespace, raws = self._checked_many("delete-many", bucket, keys, True)
        if isinstance(raws, CacheError):
            return raws
        try:
            self.ops.delete_many(namespace, raws)
        except Exception as exc:  # noqa: BLE001
            return self._failed("delete-many", namespace, exc)
        for raw in raws:
            self._stored(namespace, raw, None)
        return None


# --- observing ----------------------------------------------------------------------------


def _outcome(result: Any) -> str:
    if isinstance(result, CacheError):
        return result.value
    return "bad-request" if isinstance(result, BadRequest) else "ok"


def _payload_size(value: Any) -> int:
    """Bytes of payload in a value, a list of values or a list of (key, value) items."""
    if isinstance(value, bytes | bytearray | memoryview):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(_payload_size(item[1] if isinstance(item, tuple) else item)
                   for item in value if item is not None)
    return 0


def _observed(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` timed and reported to the session's observer: the one place a call is timed."""
    name, sent, received, batch = method.__wasmcache_operation__  # type: ignore[attr-defined]
    signature = inspect.signature(method)
    parameters = list(signature.parameters)[1:]
    sent_at = parameters.index(sent) if sent else None
    batch_at = parameters.index(batch) if batch else None
    bucket_at = parameters.index("bucket") if "bucket" in parameters else None
    wall, clock = time.time_ns, time.perf_counter_ns

    @functools.wraps(method)
    def timed(self: ObservedSession, *args: Any, **kwargs: Any) -> Any:
        if kwargs:  # the host functions call positionally; this is for Python callers
            args = tuple(signature.bind(self, *args, **kwargs).args[1:])
        refusal = self._refusal
        refusal.reason = None
        start, began = wall(), clock()
        result = method(self, *args)
        duration = clock() - began
        bucket = args[bucket_at] if bucket_at is not None and len(args) > bucket_at else None
        if name == "open" and isinstance(result, Bucket):
            bucket = result
        outcome = _outcome(result)
        done = outcome == "ok"  # payload bytes count only for calls that stored or read them
        self.observer.record(Call(  # type: ignore[union-attr]
            operation=name,
            namespace=self.namespace if bucket is None else bucket.namespace,
            bucket=None if bucket is None else bucket.name,
            outcome=outcome, start_ns=start, duration_ns=duration,
            bytes_in=_payload_size(args[sent_at]) if done and sent_at is not None else 0,
            bytes_out=_payload_size(result) if done and received else 0,
            batch_size=len(args[batch_at]) if batch_at is not None else None,
            refusal=refusal.reason))
        return result

    return timed


class ObservedSession(GuestSession):
    """A `GuestSession` whose every operation is timed and reported to its observer.

    ``GuestSession(..., observer=o)`` makes one. Operations are called positionally by the
    host functions and by `KeyValueHost`.
    """


for _attribute, _method in list(vars(GuestSession).items()):
    if hasattr(_method, "__wasmcache_operation__"):
        setattr(ObservedSession, _attribute, _observed(_method))
