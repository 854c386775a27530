"""``wasmcache:cache/cache``'s wire table, and its twin for the payload adapter.

The adapter (`wasmcache.adapter`) exports the cache interface to the guest and imports
`PAYLOAD_INTERFACE`, which has the same three functions with payloads as Latin-1 strings and
errors as their index: Wasmtime then copies a payload in bulk instead of one value per byte.
"""

from __future__ import annotations

from .names import CACHE_INTERFACE, PRIVATE_PACKAGE
from .table import ErrorForm, HostFunction, PayloadForm, Shape, WireTable

PAYLOAD_INTERFACE = f"{PRIVATE_PACKAGE}payload@0.1.0"

FUNCTIONS = (
    HostFunction("set", Shape.SET, "set"),
    HostFunction("get", Shape.GET, "get"),
    HostFunction("delete", Shape.DELETE, "delete"),
)

CACHE = WireTable(CACHE_INTERFACE, PayloadForm.LIST_U8, ErrorForm.ENUM, FUNCTIONS)
PAYLOAD = WireTable(PAYLOAD_INTERFACE, PayloadForm.LATIN1, ErrorForm.INDEX, FUNCTIONS,
                    private=True)
