"""A work-around for wasmtime-py 50.0.1 lowering an error of ``result<option<list<u8>>, E>``.

wasmtime-py lowers an untagged ``result`` by trying its cases in order and taking the first
whose Python classes match the value. ``option<T>`` claims ``object`` (for its ``none``), so
the ``ok`` case matches every value, an error included, and lowering it as an option fails with
``ValueError: value not valid for this variant``: the guest traps. wasi:keyvalue's
``bucket.get`` and ``cas.current`` have exactly that type.

`ResultErr` marks an error explicitly: `install` wraps ``ResultType.convert_to_c`` so that a
`ResultErr` is lowered as the ``err`` case; every other value goes through the original code
unchanged. tests/test_keyvalue_host.py shows the bug without the marker and the fix with it.
"""

from __future__ import annotations

import ctypes
from typing import Any

from wasmtime import _ffi as ffi
from wasmtime.component import _types


class ResultErr:
    """The ``err`` case of a result, with its payload (already in wasmtime-py's form)."""

    __slots__ = ("payload",)

    def __init__(self, payload: Any) -> None:
        self.payload = payload


_installed = False


def install() -> None:
    """Wrap ``ResultType.convert_to_c`` once (idempotent)."""
    global _installed
    if _installed:
        return
    original = _types.ResultType.convert_to_c

    def convert_to_c(self: _types.ResultType, store: Any, val: Any, ptr: Any) -> None:
        if not isinstance(val, ResultErr):
            original(self, store, val, ptr)
            return
        err_type = self.err
        raw = None
        if err_type is not None:
            cell = ffi.wasmtime_component_val_t()
            err_type.convert_to_c(store, val.payload, ctypes.pointer(cell))
            raw = ffi.wasmtime_component_val_new(ctypes.byref(cell))
        ptr.contents.kind = ffi.WASMTIME_COMPONENT_RESULT
        ptr.contents.of.result.is_ok = False
        ptr.contents.of.result.val = raw

    _types.ResultType.convert_to_c = convert_to_c  # type: ignore[method-assign]
    _installed = True
