"""wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) served over any wasmcache backend.

`host` turns the one `GuestSession`'s answers into that interface's shapes (buckets, CAS,
``other(message)``); `plain` serves them with ids instead of resources to the keyvalue adapter
nested with a guest (`wasmcache.compose.keyvalue`); `linker` defines the resources and
functions themselves in a component Linker, for a guest the wrapper cannot handle. The
checks themselves live in `wasmcache.session`, buckets in `wasmcache.buckets` and the backend
capabilities with their generic fallbacks in `wasmcache.capabilities`. See docs/keyvalue.md.
Names are imported on first use: a run whose guest does not import wasi:keyvalue never loads
the linker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .host import ACCESS_DENIED, NO_SUCH_STORE, Cas, CasFailed, KeyValueHost, KvError
    from .linker import INTERFACES, add_keyvalue_to_linker

_EXPORTS = {
    "ACCESS_DENIED": ".host", "NO_SUCH_STORE": ".host", "Cas": ".host", "CasFailed": ".host",
    "KeyValueHost": ".host", "KvError": ".host",
    "INTERFACES": ".linker", "add_keyvalue_to_linker": ".linker",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = [
    "ACCESS_DENIED",
    "Cas",
    "CasFailed",
    "INTERFACES",
    "KeyValueHost",
    "KvError",
    "NO_SUCH_STORE",
    "add_keyvalue_to_linker",
]
