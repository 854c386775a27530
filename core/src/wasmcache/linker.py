"""Linker glue: put `wasmcache:cache/cache` (and WASI) into a `wasmtime.component.Linker`.

The Python counterpart of the ``add_to_linker`` that Rust's ``bindgen!`` generates, so an
embedder can use wasmcache with its own engine, linker and store::

    linker = wasmtime.component.Linker(engine)
    linker.add_wasip2()
    wasmcache.add_to_linker(linker, CacheHost(open_backend("memory://"), "ns"))

Besides the cache interface it defines the private payload interface that a guest wrapped by
`wasmcache.fastpath.prepare_component` imports, so any guest, wrapped or not, links.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wasmtime.component import Linker, LinkerInstance

from . import fastpath
from .fastpath.adapter import PRIVATE_INTERFACE
from .host import CacheHost

if TYPE_CHECKING:
    from .keyvalue import KeyValueHost

CACHE_INTERFACE = "wasmcache:cache/cache@0.1.0"


def add_to_linker(linker: Linker, host: CacheHost, *, fast: bool = True,
                  keyvalue: KeyValueHost | bool = True) -> None:
    """Define the cache interface's three functions in `linker`, served by `host`.

    `keyvalue` also defines wasi:keyvalue (store, atomics, batch; docs/keyvalue.md), so a guest
    importing either links: True serves it from `host`'s backend, namespace, limits and policy
    with only the "default" bucket; a `KeyValueHost` serves it as given (other buckets, page
    size); False leaves it out (call `add_keyvalue_to_linker` yourself).

    One host serves every instance made from this linker; use one linker per guest identity
    (namespace and limits). `fast` (unless ``WASMCACHE_FAST_PATH=0``) registers them as raw
    C-API callbacks (`wasmcache.fastpath.capi`); otherwise wasmtime-py's public ``add_func``
    serves them, which is slower but relies on nothing private.
    """
    fast = fast and fastpath.enabled()
    if fast:
        from .fastpath import capi

        capi.check_layout()
    with linker.root() as root:
        with root.add_instance(CACHE_INTERFACE) as iface:
            if fast:
                capi.add_raw_funcs(iface, capi.cache_funcs(host))
            else:
                _add_stock_funcs(iface, host)
        with root.add_instance(PRIVATE_INTERFACE) as iface:
            if fast:
                capi.add_raw_funcs(iface, capi.payload_funcs(host))
            else:
                from .fastpath import stock

                stock.add_payload_funcs(iface, host)
    if keyvalue is not False:
        from .keyvalue import KeyValueHost, add_keyvalue_to_linker  # only when asked for

        if keyvalue is True:
            keyvalue = KeyValueHost(host.backend, host.namespace, host.limits, host.policy,
                                    stats=host.stats)
        add_keyvalue_to_linker(linker, keyvalue)


def _add_stock_funcs(iface: LinkerInstance, host: CacheHost) -> None:
    cache_set, cache_get, cache_delete = host.set, host.get, host.delete

    def set_(_store: Any, key: str, value: bytes, ttl: int | None) -> str | None:
        return cache_set(key, value, ttl)

    def get(_store: Any, key: str) -> bytes | str:
        return cache_get(key)

    def delete(_store: Any, key: str) -> str | None:
        return cache_delete(key)

    iface.add_func("set", set_)
    iface.add_func("get", get)
    iface.add_func("delete", delete)
