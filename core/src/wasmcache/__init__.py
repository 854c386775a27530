"""wasmcache: a host implementation of ``wasmcache:cache/cache`` for WebAssembly components.

The public API: open a backend, serve it to guests through a linker, or run a command guest.
"""

from __future__ import annotations

from .backend import Backend, BackendSpec, storage_key
from .errors import BackendMisconfigured, BackendUnavailable, CacheError, WasmcacheError
from .hookspecs import hookimpl
from .host import CacheHost
from .keyvalue import KeyValueHost, add_keyvalue_to_linker
from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES, Limits, validate_namespace
from .linker import CACHE_INTERFACE, add_to_linker
from .plugins import open_backend
from .preflight import check_backend
from .runner import GuestOptions, GuestTrap, run_guest

__all__ = [
    "Backend",
    "BackendMisconfigured",
    "BackendSpec",
    "BackendUnavailable",
    "CACHE_INTERFACE",
    "CacheError",
    "CacheHost",
    "GuestOptions",
    "GuestTrap",
    "KeyValueHost",
    "Limits",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "WasmcacheError",
    "add_keyvalue_to_linker",
    "add_to_linker",
    "check_backend",
    "hookimpl",
    "open_backend",
    "run_guest",
    "storage_key",
    "validate_namespace",
]
