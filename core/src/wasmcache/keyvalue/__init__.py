"""wasi:keyvalue@0.2.0-draft2 (store, atomics, batch) served over any wasmcache backend.

One job per module: `buckets` (which bucket lives where), `capabilities` (native backend
methods and the generic fallbacks), `host` (policy, limits, error mapping), `linker` (the
component resources and functions) and `lowering` (a wasmtime-py work-around). See
docs/keyvalue.md.
"""

from __future__ import annotations

from .buckets import DEFAULT_BUCKET, bucket_namespace
from .capabilities import CAPABILITIES, KeyValueOps, native_capabilities
from .host import ACCESS_DENIED, NO_SUCH_STORE, KeyValueHost, KvError
from .linker import INTERFACES, add_keyvalue_to_linker

__all__ = ["ACCESS_DENIED", "CAPABILITIES", "DEFAULT_BUCKET", "INTERFACES", "NO_SUCH_STORE",
           "KeyValueHost", "KeyValueOps", "KvError", "add_keyvalue_to_linker",
           "bucket_namespace", "native_capabilities"]
