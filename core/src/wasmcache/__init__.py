"""wasmcache: a host implementation of ``wasmcache:cache/cache`` (and wasi:keyvalue) for
WebAssembly components.

The public API: open a backend, serve it to guests through a linker (one `GuestSession` per
running guest), or run a command guest (`Guest` keeps one compiled and linked for many runs).
Names are imported on first use, so ``import wasmcache`` and ``wasmcache run`` load only what
they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .backend import Backend, BackendSpec, StoreDescription, storage_key
    from .buckets import Bucket
    from .errors import (
        BackendMisconfigured,
        BackendUnavailable,
        BadRequest,
        CacheError,
        WasmcacheError,
    )
    from .guest import Guest, RunResult
    from .hookspecs import hookimpl
    from .keyvalue import KeyValueHost, add_keyvalue_to_linker
    from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES, Limits, validate_namespace
    from .linker import add_to_linker
    from .plugins import open_backend
    from .preflight import check_backend
    from .runner import GuestOptions, GuestTimeout, GuestTrap, load_guest, run_guest
    from .session import GuestSession
    from .wire.names import CACHE_INTERFACE

_EXPORTS = {
    "Backend": ".backend", "BackendSpec": ".backend", "StoreDescription": ".backend",
    "storage_key": ".backend",
    "Bucket": ".buckets",
    "BackendMisconfigured": ".errors", "BackendUnavailable": ".errors", "BadRequest": ".errors",
    "CacheError": ".errors",
    "WasmcacheError": ".errors",
    "Guest": ".guest", "RunResult": ".guest",
    "hookimpl": ".hookspecs",
    "KeyValueHost": ".keyvalue", "add_keyvalue_to_linker": ".keyvalue",
    "MAX_KEY_BYTES": ".limits", "MAX_VALUE_BYTES": ".limits", "Limits": ".limits",
    "validate_namespace": ".limits",
    "add_to_linker": ".linker",
    "open_backend": ".plugins",
    "check_backend": ".preflight",
    "GuestOptions": ".runner", "GuestTimeout": ".runner", "GuestTrap": ".runner",
    "load_guest": ".runner", "run_guest": ".runner",
    "GuestSession": ".session",
    "CACHE_INTERFACE": ".wire.names",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = [
    "Backend",
    "BackendMisconfigured",
    "BackendSpec",
    "BackendUnavailable",
    "BadRequest",
    "Bucket",
    "CACHE_INTERFACE",
    "CacheError",
    "Guest",
    "GuestOptions",
    "GuestSession",
    "GuestTimeout",
    "GuestTrap",
    "KeyValueHost",
    "Limits",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "RunResult",
    "StoreDescription",
    "WasmcacheError",
    "add_keyvalue_to_linker",
    "add_to_linker",
    "check_backend",
    "hookimpl",
    "load_guest",
    "open_backend",
    "run_guest",
    "storage_key",
    "validate_namespace",
]
