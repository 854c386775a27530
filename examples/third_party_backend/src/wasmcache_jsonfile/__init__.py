"""wasmcache-jsonfile: registers the ``jsonfile://`` backend with wasmcache.

The ``wasmcache`` entry point in pyproject.toml names this module; wasmcache imports it and
calls the hook below, which is all a plugin has to provide.
"""

from __future__ import annotations

from collections.abc import Callable

from wasmcache import BackendSpec, hookimpl

from .store import JsonFileBackend, open_jsonfile

__all__ = ["JsonFileBackend", "open_jsonfile", "wasmcache_register_backends"]


@hookimpl
def wasmcache_register_backends(register: Callable[[BackendSpec], None]) -> None:
    register(BackendSpec(
        schemes=("jsonfile",),
        open=open_jsonfile,
        description="toy: the whole cache in one JSON file (third-party example)",
        example="jsonfile:///tmp/wasmcache.json",
        capabilities=("usage",),
    ))
