"""Linker glue: define wasi:keyvalue@0.2.0-draft2 store, atomics and batch in a component Linker.

    linker = wasmtime.component.Linker(engine)
    linker.add_wasip2()
    add_keyvalue_to_linker(linker, KeyValueHost(GuestSession(open_backend("memory://"), "ns")))

A guest nested with the keyvalue adapter never reaches these: its calls arrive through the
adapter's private interface (`wasmcache.keyvalue.plain`). This linker serves the guests the
wrapper cannot handle, with the same answers.

Resources: ``bucket`` and ``cas`` are host resources (`ResourceType.host`); their
representation is an index into this linker's tables, released by the destructor when the
guest drops the handle. Every borrowed handle is taken over with ``to_host`` exactly once per
call (wasmtime traps when a borrow outlives the call). Errors are returned, never raised.

wasmtime-py 50 cannot lower an error of ``result<option<list<u8>>, error>``: its untagged-result
lowering tries the ``ok`` case first, and ``option`` claims every Python value. Of the two
functions of that type, ``cas.current`` never fails; ``bucket.get`` is, in the `capi` style, a
raw callback that writes its result itself, and in the public style an error there traps the
guest with one line saying so (docs/keyvalue.md). Nothing of wasmtime-py is changed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from wasmtime import WasmtimeError
from wasmtime.component import Linker, Record, ResourceAny, ResourceHost, ResourceType, Variant

from ..buckets import Bucket
from ..wire import Style, choose_style
from .host import Cas, CasFailed, KeyValueHost, KvError

VERSION = "0.2.0-draft2"
STORE_INTERFACE = f"wasi:keyvalue/store@{VERSION}"
ATOMICS_INTERFACE = f"wasi:keyvalue/atomics@{VERSION}"
BATCH_INTERFACE = f"wasi:keyvalue/batch@{VERSION}"
INTERFACES = (STORE_INTERFACE, ATOMICS_INTERFACE, BATCH_INTERFACE)
BUCKET_TYPE = 0x6B760001  # arbitrary host resource type ids ("kv" 1 and 2)
CAS_TYPE = 0x6B760002

T = TypeVar("T")
_held = threading.local()  # .reps: (table, rep) added by the run in progress on this thread


@contextmanager
def run_scope() -> Iterator[None]:
    """Release, when a guest run on this thread ends, every handle it has not dropped.

    Wasmtime drops a store without calling the destructors of host resources, so a linker
    that serves many runs would otherwise keep every bucket a run left open. A guest's host
    calls run on the thread that called into it, so a thread-local list knows the run's reps.
    """
    outer = getattr(_held, "reps", None)
    reps: list[tuple[_Table[Any], int]] = []
    _held.reps = reps
    try:
        yield
    finally:
        _held.reps = outer
        for table, rep in reps:
            table.pop(rep)


class _Table(Generic[T]):
    """rep -> object for live resource handles; reps are 32-bit and never reused soon."""

    def __init__(self) -> None:
        self._items: dict[int, T] = {}
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, item: T) -> int:
        with self._lock:
            rep = next(self._next) & 0xFFFFFFFF
            self._items[rep] = item
        reps = getattr(_held, "reps", None)
        if reps is not None:
            reps.append((self, rep))
        return rep

    def get(self, rep: int) -> T:
        return self._items[rep]

    def pop(self, rep: int) -> T | None:
        with self._lock:
            return self._items.pop(rep, None)

    def __len__(self) -> int:
        return len(self._items)


def err(error: KvError) -> Variant:
    return Variant(error.case, error.message) if error.case == "other" else Variant(error.case)


LOWERING_BUG = ("wasmtime-py's public API cannot return this error from a function whose ok "
                "type is option<list<u8>> (set WASMCACHE_FAST_PATH=1 with a supported "
                "wasmtime-py 50.x)")


def add_keyvalue_to_linker(linker: Linker, host: KeyValueHost, *,
                           style: Style | str | None = None) -> tuple[_Table[Bucket],
                                                                      _Table[Cas]]:
    """Define the three interfaces in `linker`, served by `host`; returns the handle tables
    (for tests: they empty as the guest drops its handles)."""
    style = choose_style(style)
    buckets: _Table[Bucket] = _Table()
    cases: _Table[Cas] = _Table()

    def borrowed(store: Any, handle: ResourceAny, table: _Table[T]) -> T:
        return table.get(handle.to_host(store).rep)

    def own_cas(cas: Cas) -> ResourceHost:
        return ResourceHost.own(cases.add(cas), CAS_TYPE)

    # --- store ----------------------------------------------------------------------------
    def open_(_store: Any, identifier: str) -> ResourceHost | Variant:
        bucket = host.open(identifier)
        if isinstance(bucket, KvError):
            return err(bucket)
        return ResourceHost.own(buckets.add(bucket), BUCKET_TYPE)

    def answer_get(rep: int, key: str) -> Any:
        result = host.get(buckets.get(rep), key)
        return (result.case, result.message) if isinstance(result, KvError) else result

    def get(store: Any, this: ResourceAny, key: str) -> Any:
        result = host.get(borrowed(store, this, buckets), key)
        if isinstance(result, KvError):
            raise WasmtimeError(f"wasi:keyvalue bucket.get answered {result.case}: "
                                f"{LOWERING_BUG}")
        return result

    def set_(store: Any, this: ResourceAny, key: str, value: bytes) -> Variant | None:
        result = host.set(borrowed(store, this, buckets), key, value)
        return None if result is None else err(result)

    def delete(store: Any, this: ResourceAny, key: str) -> Variant | None:
        result = host.delete(borrowed(store, this, buckets), key)
        return None if result is None else err(result)

    def exists(store: Any, this: ResourceAny, key: str) -> bool | Variant:
        result = host.exists(borrowed(store, this, buckets), key)
        return err(result) if isinstance(result, KvError) else result

    def list_keys(store: Any, this: ResourceAny, cursor: str | None) -> Record | Variant:
        result = host.list_keys(borrowed(store, this, buckets), cursor)
        if isinstance(result, KvError):
            return err(result)
        response = Record()
        response.keys, response.cursor = result  # type: ignore[attr-defined]
        return response

    # --- atomics --------------------------------------------------------------------------
    def cas_new(store: Any, bucket: ResourceAny, key: str) -> ResourceHost | Variant:
        result = host.cas_new(borrowed(store, bucket, buckets), key)
        return err(result) if isinstance(result, KvError) else own_cas(result)

    def cas_current(store: Any, this: ResourceAny) -> Any:
        return borrowed(store, this, cases).current

    def increment(store: Any, bucket: ResourceAny, key: str, delta: int) -> int | Variant:
        result = host.increment(borrowed(store, bucket, buckets), key, delta)
        return err(result) if isinstance(result, KvError) else result

    def swap(store: Any, handle: ResourceAny, value: bytes) -> Any:
        cas = cases.pop(handle.to_host(store).rep)  # consumed: the destructor will not run
        if cas is None:
            return err(KvError("other", "this cas was already used"))
        result = host.swap(cas, value)
        if result is None:
            return None
        if isinstance(result, CasFailed):
            return own_cas(result.cas)
        return err(result)  # cas-error.store-error(error): the variant decides the case

    # --- batch ----------------------------------------------------------------------------
    def get_many(store: Any, bucket: ResourceAny, keys: list[str]) -> Any:
        result = host.get_many(borrowed(store, bucket, buckets), keys)
        return err(result) if isinstance(result, KvError) else result

    def set_many(store: Any, bucket: ResourceAny, items: list[tuple[str, bytes]]) -> Any:
        result = host.set_many(borrowed(store, bucket, buckets), items)
        return None if result is None else err(result)

    def delete_many(store: Any, bucket: ResourceAny, keys: list[str]) -> Any:
        result = host.delete_many(borrowed(store, bucket, buckets), keys)
        return None if result is None else err(result)

    with linker.root() as root:
        with root.add_instance(STORE_INTERFACE) as iface:
            iface.add_resource("bucket", ResourceType.host(BUCKET_TYPE),
                               lambda _store, rep: buckets.pop(rep))
            iface.add_func("open", open_)
            if style is Style.CAPI:
                from ..wire import capi

                capi.define(iface, "[method]bucket.get", capi.option_payload_or_kv_error(
                    answer_get, True, f"{STORE_INTERFACE}#[method]bucket.get"))
            else:
                iface.add_func("[method]bucket.get", get)
            iface.add_func("[method]bucket.set", set_)
            iface.add_func("[method]bucket.delete", delete)
            iface.add_func("[method]bucket.exists", exists)
            iface.add_func("[method]bucket.list-keys", list_keys)
        with root.add_instance(ATOMICS_INTERFACE) as iface:
            iface.add_resource("cas", ResourceType.host(CAS_TYPE),
                               lambda _store, rep: cases.pop(rep))
            iface.add_func("[static]cas.new", cas_new)
            iface.add_func("[method]cas.current", cas_current)  # never an error: lowers fine
            iface.add_func("increment", increment)
            iface.add_func("swap", swap)
        with root.add_instance(BATCH_INTERFACE) as iface:
            iface.add_func("get-many", get_many)
            iface.add_func("set-many", set_many)
            iface.add_func("delete-many", delete_many)
    return buckets, cases
