"""Components wasmcache generates and nests around an unchanged guest.

`adapter` writes the payload adapter (and, for tests and the bench, its mirror and its floor) as
WAT; `nest` builds the wrapper component that nests the guest with it, in pure Python. `layers`
composes a guest with cache components (``--cache-component``) and the adapter, with `prefix`
merging their imports into one wrapper. Names are imported on first use: a warm start loads the
compiled wrapper and needs none of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .nest import PrivateImport, prepare_component, refuse_private_imports
    from .version import ADAPTER_VERSION

_EXPORTS = {"ADAPTER_VERSION": ".version", "PrivateImport": ".nest",
            "prepare_component": ".nest", "refuse_private_imports": ".nest"}
__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)

__all__ = ["ADAPTER_VERSION", "PrivateImport", "prepare_component", "refuse_private_imports"]
