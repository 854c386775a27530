"""wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) served over any wasmcache backend.

`host` turns the one `GuestSession`'s answers into that interface's shapes (buckets, CAS,
``other(message)``); `linker` defines its resources and functions in a component Linker. The
checks themselves live in `wasmcache.session`, buckets in `wasmcache.buckets` and the backend
capabilities with their generic fallbacks in `wasmcache.capabilities`. See docs/keyvalue.md.
"""

from __future__ import annotations

from .host import ACCESS_DENIED, NO_SUCH_STORE, Cas, CasFailed, KeyValueHost, KvError
from .linker import INTERFACES, add_keyvalue_to_linker

__all__ = ["ACCESS_DENIED", "INTERFACES", "NO_SUCH_STORE", "Cas", "CasFailed", "KeyValueHost",
           "KvError", "add_keyvalue_to_linker"]
