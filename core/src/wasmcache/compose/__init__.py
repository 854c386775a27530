"""Components wasmcache generates and nests around an unchanged guest.

`adapter` writes the payload adapter (and, for tests and the bench, its mirror and its floor) as
WAT; `nest` builds the wrapper component that nests the guest with it, in pure Python. `layers`
composes a guest with cache components (``--cache-component``) and the adapter, with `prefix`
merging their imports into one wrapper.
"""

from __future__ import annotations

from .adapter import ADAPTER_VERSION
from .nest import PrivateImport, prepare_component, refuse_private_imports

__all__ = ["ADAPTER_VERSION", "PrivateImport", "prepare_component", "refuse_private_imports"]
