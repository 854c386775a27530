"""wasmcache: a host implementation of ``wasmcache:cache/cache`` for WebAssembly components.

The public API: open a backend, serve it to guests through a linker, or run a command guest
(`Guest` keeps one compiled and linked for many runs). Names are imported on first use, so
``import wasmcache`` and ``wasmcache run`` load only what they need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .backend import Backend, BackendSpec, storage_key
    from .errors import BackendUnavailable, CacheError, WasmcacheError
    from .guest import Guest, RunResult
    from .hookspecs import hookimpl
    from .host import CacheHost
    from .keyvalue import KeyValueHost, add_keyvalue_to_linker
    from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES, Limits, validate_namespace
    from .linker import CACHE_INTERFACE, add_to_linker
    from .plugins import open_backend
    from .runner import GuestOptions, GuestTimeout, GuestTrap, run_guest

_EXPORTS = {
    "Backend": ".backend", "BackendSpec": ".backend", "storage_key": ".backend",
    "BackendUnavailable": ".errors", "CacheError": ".errors", "WasmcacheError": ".errors",
    "Guest": ".guest", "RunResult": ".guest",
    "hookimpl": ".hookspecs",
    "CacheHost": ".host",
    "KeyValueHost": ".keyvalue", "add_keyvalue_to_linker": ".keyvalue",
    "MAX_KEY_BYTES": ".limits", "MAX_VALUE_BYTES": ".limits", "Limits": ".limits",
    "validate_namespace": ".limits",
    "CACHE_INTERFACE": ".linker", "add_to_linker": ".linker",
    "open_backend": ".plugins",
    "GuestOptions": ".runner", "GuestTimeout": ".runner", "GuestTrap": ".runner",
    "run_guest": ".runner",
}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = [
    "Backend",
    "BackendSpec",
    "BackendUnavailable",
    "CACHE_INTERFACE",
    "CacheError",
    "CacheHost",
    "Guest",
    "GuestOptions",
    "GuestTimeout",
    "GuestTrap",
    "KeyValueHost",
    "Limits",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "RunResult",
    "WasmcacheError",
    "add_keyvalue_to_linker",
    "add_to_linker",
    "hookimpl",
    "open_backend",
    "run_guest",
    "storage_key",
    "validate_namespace",
]
