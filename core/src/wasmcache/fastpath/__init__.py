"""The fast guest-to-host call path for ``wasmcache:cache/cache``.

Two parts, each usable alone:

* `capi`: the cache interface's host functions as raw C-API callbacks (no per-call type
  reflection, ``list<u8>`` copied through a strided memoryview);
* `adapter` + `wrap`: `prepare_component` nests the unchanged guest with a small adapter component
  that hands payloads to the host as Latin-1 strings, which cross the C API as one buffer.

``WASMCACHE_FAST_PATH=0`` turns both off (the stock ``add_func`` path then serves everything).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .adapter import ADAPTER_VERSION, CACHE_INTERFACE, PRIVATE_INTERFACE

if TYPE_CHECKING:
    from .wrap import prepare_component

# the wrapper is needed only to compile a guest, never on a warm start
__getattr__, __dir__ = lazy_exports(__name__, globals(), {"prepare_component": ".wrap"})

ENV = "WASMCACHE_FAST_PATH"


def enabled() -> bool:
    """False when ``WASMCACHE_FAST_PATH`` is 0/off/false/no."""
    return os.environ.get(ENV, "1").strip().lower() not in ("0", "off", "false", "no")


__all__ = ["ADAPTER_VERSION", "CACHE_INTERFACE", "ENV", "PRIVATE_INTERFACE", "enabled",
           "prepare_component"]
