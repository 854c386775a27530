"""wasi:keyvalue through a real guest, driven from Python: for the contract suite and tests.

`MirrorGuest` instantiates the keyvalue mirror guest (`keyvalue_mirror_guest_wat`: it imports
wasi:keyvalue store, atomics and batch and exports each function with u32 handles and Latin-1
string payloads) on a host registered in one style (`capi` or `public`), nested with the
keyvalue adapter (``wrapped``, what every guest the wrapper handles gets) or not (today's
resource-based linker). Its `call` returns what the export returned, or raises the trap.

`GuestKeyValue` has `KeyValueHost`'s methods and answers (buckets, `Cas`, `CasFailed`,
`KvError`), each made by a call through that guest: the contract suite runs its checks through
it as well as against `KeyValueHost` itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime.component import Component, Linker, Variant

from ..buckets import Bucket
from ..compose.keyvalue import MIRROR_EXPORT, keyvalue_mirror_guest_wat
from ..compose.nest import prepare_component
from ..keyvalue.host import Cas, CasFailed, KvError
from ..linker import add_to_linker
from ..session import GuestSession

FUNCTIONS = ("open", "get", "set", "delete", "exists", "list-keys", "cas-new", "cas-current",
             "increment", "swap", "get-many", "set-many", "delete-many", "drop-bucket",
             "drop-cas")
#: (style, wrapped) of every way a guest's wasi:keyvalue call can be served
CONFIGS = (("capi", True), ("public", True), ("capi", False), ("public", False))


@functools.cache
def engine() -> wasmtime.Engine:
    """The engine every `MirrorGuest` runs on."""
    return wasmtime.Engine()


@functools.cache
def _component(wrapped: bool) -> Component:
    wasm = wasmtime.wat2wasm(keyvalue_mirror_guest_wat())
    return Component(engine(), prepare_component(wasm) if wrapped else wasm)


class MirrorGuest:
    """One instance of the keyvalue mirror guest, served by `session`."""

    def __init__(self, session: GuestSession, style: str, wrapped: bool = True,
                 linker: Linker | None = None) -> None:
        """`linker`: one the caller filled (for a test that keeps the host's tables)."""
        if linker is None:
            linker = Linker(engine())
            add_to_linker(linker, session, style=style)
        self.store = wasmtime.Store(engine())
        instance = linker.instantiate(self.store, _component(wrapped))
        mirror = instance.get_export_index(self.store, MIRROR_EXPORT)
        self._funcs = {name: instance.get_func(self.store, instance.get_export_index(
            self.store, name, mirror)) for name in FUNCTIONS}

    def call(self, name: str, *args: Any) -> Any:
        """What the mirror's `name` returned (payloads as Latin-1 strings, handles as ints)."""
        return self._funcs[name](self.store, *args)  # type: ignore[misc]


def latin1(value: bytes) -> str:
    return value.decode("latin-1")


def payload(value: str) -> bytes:
    return value.encode("latin-1")


def kv_error(variant: Variant) -> KvError:
    return KvError(variant.tag, variant.payload)


@dataclass
class GuestCas(Cas):
    """A `Cas` whose handle lives in the mirror guest (`current` read through it once)."""

    handle: int = 0


class GuestKeyValue:
    """`KeyValueHost`'s methods, each answered through a `MirrorGuest`."""

    def __init__(self, session: GuestSession, style: str, wrapped: bool = True) -> None:
        self.session = session
        self.guest = MirrorGuest(session, style, wrapped)
        self._handles: dict[str, int] = {}

    @property
    def namespace(self) -> str:
        return self.session.namespace

    def _call(self, name: str, *args: Any) -> Any:
        result = self.guest.call(name, *args)
        return kv_error(result) if isinstance(result, Variant) else result

    def _handle(self, bucket: Bucket) -> int:
        return self._handles[bucket.name]

    def open(self, identifier: str) -> Bucket | KvError:
        handle = self._call("open", identifier)
        if isinstance(handle, KvError):
            return handle
        if identifier in self._handles:
            self.guest.call("drop-bucket", self._handles[identifier])
        self._handles[identifier] = handle
        return self.session.buckets[identifier]

    def get(self, bucket: Bucket, key: str) -> bytes | None | KvError:
        value = self._call("get", self._handle(bucket), key)
        return payload(value) if isinstance(value, str) else value

    def set(self, bucket: Bucket, key: str, value: bytes) -> KvError | None:
        return self._call("set", self._handle(bucket), key, latin1(value))  # type: ignore

    def delete(self, bucket: Bucket, key: str) -> KvError | None:
        return self._call("delete", self._handle(bucket), key)  # type: ignore[no-any-return]

    def exists(self, bucket: Bucket, key: str) -> bool | KvError:
        return self._call("exists", self._handle(bucket), key)  # type: ignore[no-any-return]

    def list_keys(self, bucket: Bucket,
                  cursor: str | None) -> tuple[list[str], str | None] | KvError:
        return self._call("list-keys", self._handle(bucket), cursor)  # type: ignore

    def increment(self, bucket: Bucket, key: str, delta: int) -> int | KvError:
        return self._call("increment", self._handle(bucket), key, delta)  # type: ignore

    def _cas(self, bucket: Bucket, key: str, handle: int) -> GuestCas:
        current = self._call("cas-current", handle)
        assert not isinstance(current, KvError), current
        return GuestCas(bucket, key, None if current is None else payload(current), handle)

    def cas_new(self, bucket: Bucket, key: str) -> Cas | KvError:
        handle = self._call("cas-new", self._handle(bucket), key)
        return handle if isinstance(handle, KvError) else self._cas(bucket, key, handle)

    def swap(self, cas: Cas, value: bytes) -> KvError | CasFailed | None:
        assert isinstance(cas, GuestCas)
        result = self._call("swap", cas.handle, latin1(value))
        if isinstance(result, int):  # cas-failed: a fresh handle
            return CasFailed(self._cas(cas.bucket, cas.key, result))
        return result  # type: ignore[no-any-return]

    def get_many(self, bucket: Bucket,
                 keys: Sequence[str]) -> list[tuple[str, bytes] | None] | KvError:
        result = self._call("get-many", self._handle(bucket), list(keys))
        if isinstance(result, KvError):
            return result
        return [None if item is None else (item[0], payload(item[1])) for item in result]

    def set_many(self, bucket: Bucket, items: Sequence[tuple[str, bytes]]) -> KvError | None:
        return self._call("set-many", self._handle(bucket),  # type: ignore[no-any-return]
                          [(key, latin1(value)) for key, value in items])

    def delete_many(self, bucket: Bucket, keys: Sequence[str]) -> KvError | None:
        return self._call("delete-many", self._handle(bucket), list(keys))  # type: ignore


__all__ = ["CONFIGS", "GuestCas", "GuestKeyValue", "MirrorGuest"]
