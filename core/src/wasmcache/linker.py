"""Linker glue: put `wasmcache:cache/cache` (and WASI) into a `wasmtime.component.Linker`.

The Python counterpart of the ``add_to_linker`` that Rust's ``bindgen!`` generates, so an
embedder can use wasmcache with its own engine, linker and store::

    linker = wasmtime.component.Linker(engine)
    linker.add_wasip2()
    wasmcache.add_to_linker(linker, CacheHost(open_backend("memory://"), "ns"))
"""

from __future__ import annotations

from typing import Any

from wasmtime.component import Linker

from .host import CacheHost

CACHE_INTERFACE = "wasmcache:cache/cache@0.1.0"


def add_to_linker(linker: Linker, host: CacheHost) -> None:
    """Define the cache interface's three functions in `linker`, served by `host`.

    One host serves every instance made from this linker; use one linker per guest identity
    (namespace and limits).
    """
    cache_set, cache_get, cache_delete = host.set, host.get, host.delete

    def set_(_store: Any, key: str, value: bytes, ttl: int | None) -> str | None:
        return cache_set(key, value, ttl)

    def get(_store: Any, key: str) -> bytes | str:
        return cache_get(key)

    def delete(_store: Any, key: str) -> str | None:
        return cache_delete(key)

    with linker.root() as root, root.add_instance(CACHE_INTERFACE) as iface:
        iface.add_func("set", set_)
        iface.add_func("get", get)
        iface.add_func("delete", delete)
