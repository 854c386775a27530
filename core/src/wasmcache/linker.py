"""Linker glue: put `wasmcache:cache/cache`, wasi:keyvalue and the adapters' private interfaces
into a `wasmtime.component.Linker`, all served by one `GuestSession`.

The Python counterpart of the ``add_to_linker`` that Rust's ``bindgen!`` generates, so an
embedder can use wasmcache with its own engine, linker and store::

    linker = wasmtime.component.Linker(engine)
    linker.add_wasip2()
    wasmcache.add_to_linker(linker, GuestSession(open_backend("memory://"), "ns"))

Load components with `wasmcache.load_guest` (or pass them through
`wasmcache.compose.prepare_component`): it nests the adapters with the guest and refuses a
component that imports a private interface itself.
"""

from __future__ import annotations

from wasmtime.component import Linker

from .session import GuestSession
from .wire import Style, choose_style
from .wire.cache import CACHE, PAYLOAD, PAYLOAD_INTERFACE
from .wire.keyvalue import KEYVALUE
from .wire.table import WireTable


def add_to_linker(linker: Linker, session: GuestSession, *, keyvalue: bool = True,
                  style: Style | str | None = None) -> None:
    """Define the cache interface (and its private payload twin) in `linker`, served by
    `session`; with `keyvalue`, wasi:keyvalue store, atomics and batch too (and their private
    resource-free twin, which the keyvalue adapter imports), from the same session (its
    buckets, limits, policy and quota).

    One session serves every instance made from this linker: use one linker per running guest
    (or per guest identity, when runs may share quotas and statistics). `style` picks how host
    functions are registered (`wasmcache.wire.choose_style`: raw C-API callbacks where the
    installed wasmtime-py allows, else its public API).
    """
    style = choose_style(style)
    if style is Style.CAPI:
        from .wire.capi import register
    else:
        from .wire.public import register
    tables: list[tuple[WireTable, object]] = [(CACHE, session), (PAYLOAD, session)]
    host = None
    if keyvalue:  # imported only here: a cache-only guest's start skips the keyvalue linker
        from .keyvalue.host import KeyValueHost
        from .keyvalue.plain import PlainKeyValue

        host = KeyValueHost(session)
        tables.append((KEYVALUE, PlainKeyValue(host)))
    with linker.root() as root:
        for table, server in tables:
            with root.add_instance(table.interface) as instance:
                register(instance, table, server)
    if host is not None:
        from .keyvalue.linker import add_keyvalue_to_linker

        add_keyvalue_to_linker(linker, host, style=style)


__all__ = ["PAYLOAD_INTERFACE", "add_to_linker"]
