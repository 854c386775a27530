"""wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) served over any wasmcache backend.

One job per module: `buckets` (which bucket lives where), `capabilities` (native backend
methods and the generic fallbacks), `host` (policy, limits, error mapping), `linker` (the
component resources and functions) and `lowering` (a wasmtime-py work-around). See
docs/keyvalue.md. Names are imported on first use: a run whose guest does not import
wasi:keyvalue never loads the linker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .buckets import DEFAULT_BUCKET, bucket_namespace
    from .capabilities import CAPABILITIES, KeyValueOps, native_capabilities
    from .host import ACCESS_DENIED, NO_SUCH_STORE, KeyValueHost, KvError
    from .linker import INTERFACES, add_keyvalue_to_linker

_EXPORTS = {
    "DEFAULT_BUCKET": ".buckets", "bucket_namespace": ".buckets",
    "CAPABILITIES": ".capabilities", "KeyValueOps": ".capabilities",
    "native_capabilities": ".capabilities",
    "ACCESS_DENIED": ".host", "NO_SUCH_STORE": ".host", "KeyValueHost": ".host",
    "KvError": ".host",
    "INTERFACES": ".linker", "add_keyvalue_to_linker": ".linker",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = ["ACCESS_DENIED", "CAPABILITIES", "DEFAULT_BUCKET", "INTERFACES", "NO_SUCH_STORE",
           "KeyValueHost", "KeyValueOps", "KvError", "add_keyvalue_to_linker",
           "bucket_namespace", "native_capabilities"]
