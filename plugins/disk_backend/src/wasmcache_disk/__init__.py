"""wasmcache-disk: the ``disk://`` backend, an embedded store on diskcache (SQLite).

It is the default backend: with no --backend, $WASMCACHE_BACKEND or config, ``wasmcache run``
uses ``disk://.wasmcache`` in the working directory, so a first run needs no server.

URLs: ``disk://.wasmcache`` (relative to the working directory), ``disk:///abs/path``, with
query options ``size_limit``, ``eviction_policy``, ``cull_limit``, ``shards`` and ``timeout``;
`wasmcache_disk.options` documents them.
"""

from __future__ import annotations

from collections.abc import Callable

from wasmcache import BackendSpec, hookimpl

from .backend import DiskBackend, open_disk
from .options import DiskOptions, parse_url

__all__ = ["DiskBackend", "DiskOptions", "open_disk", "parse_url",
           "wasmcache_register_backends"]


@hookimpl
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Register ``disk://`` with the core."""
    register(BackendSpec(
        schemes=("disk",),
        open=open_disk,
        description="embedded store in a local directory (diskcache/SQLite); the default",
        example="disk://.wasmcache",
    ))
