"""The private payload interface served through wasmtime-py's public ``add_func`` (no internals).

Used when the fast path is off (``fast=False`` or ``WASMCACHE_FAST_PATH=0``), so a guest wrapped
by `prepare_component` still runs on a linker that only uses wasmtime-py's public API. Strings
cross the public API as one buffer, so this is slower per call than `capi` but not per byte.
"""

from __future__ import annotations

from typing import Any

from wasmtime.component import LinkerInstance

from ..errors import CacheError
from ..host import CacheHost
from .adapter import ERROR_CASES

_ERROR_INDEX = {CacheError(case): index for index, case in enumerate(ERROR_CASES)}


def add_payload_funcs(instance: LinkerInstance, host: CacheHost) -> None:
    """Define the private interface's set/get/delete in `instance` with ``add_func``."""
    host_set, host_get, host_delete = host.set, host.get, host.delete

    def set_(_store: Any, key: str, value: str, ttl: int | None) -> int | None:
        err = host_set(key, value.encode("latin-1"), ttl)
        return None if err is None else _ERROR_INDEX[err]

    def get(_store: Any, key: str) -> str | int:
        value = host_get(key)
        return value.decode("latin-1") if isinstance(value, bytes) else _ERROR_INDEX[value]

    def delete(_store: Any, key: str) -> int | None:
        err = host_delete(key)
        return None if err is None else _ERROR_INDEX[err]

    instance.add_func("set", set_)
    instance.add_func("get", get)
    instance.add_func("delete", delete)
