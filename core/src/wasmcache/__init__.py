"""wasmcache: a host implementation of ``wasmcache:cache/cache`` (and wasi:keyvalue) for
WebAssembly components.

The public API: open a backend, serve it to guests through a linker (one `GuestSession` per
running guest), or run a command guest.
"""

from __future__ import annotations

from .backend import Backend, BackendSpec, StoreDescription, storage_key
from .buckets import Bucket
from .errors import BackendUnavailable, BadRequest, CacheError, WasmcacheError
from .hookspecs import hookimpl
from .keyvalue import KeyValueHost, add_keyvalue_to_linker
from .limits import MAX_KEY_BYTES, MAX_VALUE_BYTES, Limits, validate_namespace
from .linker import add_to_linker
from .plugins import open_backend
from .runner import GuestOptions, GuestTrap, load_guest, run_guest
from .session import GuestSession
from .wire.cache import CACHE_INTERFACE

__all__ = [
    "Backend",
    "BackendSpec",
    "BackendUnavailable",
    "BadRequest",
    "Bucket",
    "CACHE_INTERFACE",
    "CacheError",
    "GuestOptions",
    "GuestSession",
    "GuestTrap",
    "KeyValueHost",
    "Limits",
    "MAX_KEY_BYTES",
    "MAX_VALUE_BYTES",
    "StoreDescription",
    "WasmcacheError",
    "add_keyvalue_to_linker",
    "add_to_linker",
    "hookimpl",
    "load_guest",
    "open_backend",
    "run_guest",
    "storage_key",
    "validate_namespace",
]
