"""wasmcache-disk: the ``disk://`` backend, an embedded store on diskcache (SQLite).

It is the default backend: with no --backend, $WASMCACHE_BACKEND or config, ``wasmcache run``
uses ``disk://.wasmcache`` in the working directory, so a first run needs no server.

URLs: ``disk://.wasmcache`` (relative to the working directory), ``disk:///abs/path``, with
query options ``size_limit``, ``eviction_policy``, ``cull_limit``, ``shards``, ``timeout`` and
``journal_mode`` (a rollback journal, ``truncate``, by default: never diskcache's WAL unless
asked, see the README); `wasmcache_disk.options` documents them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wasmcache import BackendSpec, hookimpl

if TYPE_CHECKING:
    from .backend import DiskBackend
    from .options import DiskOptions, parse_url

__all__ = ["DiskBackend", "DiskOptions", "open_disk", "parse_url",
           "wasmcache_register_backends"]

# Registration must stay cheap (every `wasmcache` command loads every plugin): diskcache and
# the backend are imported by the opener, and the re-exports on first use (PEP 562).
_LAZY = {"DiskBackend": ".backend", "DiskOptions": ".options", "parse_url": ".options"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_disk(url: str) -> DiskBackend:
    """The `BackendSpec.open` of ``disk://``: parse the URL and open the directory."""
    from .backend import open_disk as open_

    return open_(url)


@hookimpl
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    """Register ``disk://`` with the core."""
    register(BackendSpec(
        schemes=("disk",),
        open=open_disk,
        description="embedded store in a local directory (diskcache/SQLite); the default",
        example="disk://.wasmcache",
        capabilities=("usage", "increment", "compare_and_swap", "get_many", "set_many",
                      "delete_many", "list_keys", "describe"),
    ))
