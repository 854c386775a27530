"""How host functions meet guests: each interface's wire table, and two ways to register it.

A wire table (`table.WireTable`) says, once per interface, which `GuestSession` method serves
each host function and how payloads and errors travel: ``list<u8>`` and the WIT error enum for
``wasmcache:cache/cache`` itself; Latin-1 strings and the error's index for the adapter's
private interface (`PAYLOAD`). The same table is registered in one of two styles:

* `capi`: raw C-API callbacks with fixed signatures (no per-call type reflection, payloads
  copied in bulk) through `wasmcache._wasmtime`, the one module that touches wasmtime-py's
  internals;
* `public`: wasmtime-py's public ``LinkerInstance.add_func``: slower per call, relying on
  nothing private, and the tested twin of `capi` (byte for byte the same answers).

`choose_style` picks one: `capi` unless ``WASMCACHE_FAST_PATH=0`` asks for the public API or the
installed wasmtime-py fails `wasmcache._wasmtime`'s layout check (then one warning line).
"""

from __future__ import annotations

import enum
import logging
import os

log = logging.getLogger("wasmcache.wire")

ENV = "WASMCACHE_FAST_PATH"


class Style(enum.StrEnum):
    CAPI = "capi"
    PUBLIC = "public"


class WireError(Exception):
    """The guest sent something this wire cannot carry: the call traps with this line."""


_warned = False


def choose_style(requested: Style | str | None = None) -> Style:
    """The registration style to use: `requested`, else ``$WASMCACHE_FAST_PATH``, else `capi`
    where the installed wasmtime-py passes the layout check."""
    global _warned
    if requested is None:
        off = os.environ.get(ENV, "1").strip().lower() in ("0", "off", "false", "no")
        requested = Style.PUBLIC if off else Style.CAPI
    style = Style(requested)
    from .. import _wasmtime  # checked here, not at import: a run with no host needs neither

    if style is Style.CAPI and _wasmtime.PROBLEM is not None:
        if not _warned:
            _warned = True
            log.warning("fast path off, wasmtime-py's public API serves every call "
                        "(same answers, slower): %s", _wasmtime.PROBLEM)
        return Style.PUBLIC
    return style


__all__ = ["ENV", "Style", "WireError", "choose_style"]
