"""wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) served over any wasmcache backend.

`host` turns the one `GuestSession`'s answers into that interface's shapes (buckets, CAS,
``other(message)``); `plain` serves them with ids instead of resources to the keyvalue adapter
nested with a guest (`wasmcache.compose.keyvalue`); `linker` defines the resources and
functions themselves in a component Linker, for a guest the wrapper cannot handle. The
checks themselves live in `wasmcache.session`, buckets in `wasmcache.buckets` and the backend
capabilities with their generic fallbacks in `wasmcache.capabilities`. See docs/keyvalue.md.
"""

from __future__ import annotations

from .host import ACCESS_DENIED, NO_SUCH_STORE, Cas, CasFailed, KeyValueHost, KvError
from .linker import INTERFACES, add_keyvalue_to_linker

__all__ = ["ACCESS_DENIED", "INTERFACES", "NO_SUCH_STORE", "Cas", "CasFailed", "KeyValueHost",
           "KvError", "add_keyvalue_to_linker"]
