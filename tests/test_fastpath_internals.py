"""Loud failures for every wasmtime-py internal the fast path relies on (pinned: 50.0.1)."""

from __future__ import annotations

import ctypes
import importlib.metadata
import inspect

import wasmtime
from wasmcache.fastpath import capi
from wasmtime import _ffi as ffi
from wasmtime.component import _enter, _linker

PINNED = "50.0.1"


def test_wasmtime_is_the_pinned_version() -> None:
    version = importlib.metadata.version("wasmtime")
    assert version == PINNED, (
        f"wasmtime {version} is installed but wasmcache's fast path was verified on {PINNED}: "
        "re-check fastpath/capi.py against the new C value layout before changing the pin")


def test_c_value_layout_matches() -> None:
    capi.check_layout()  # raises RuntimeError naming every mismatch


def test_callback_signature_matches_the_c_api() -> None:
    proto = ffi.wasmtime_component_func_callback_t
    assert proto._restype_ is ctypes.c_size_t, "host callbacks no longer return an error pointer"
    assert len(proto._argtypes_) == 7, (
        "wasmtime_component_func_callback_t changed arity: "
        "(data, context, func type, args, nargs, results, nresults) expected")
    for symbol in ("wasmtime_component_linker_instance_add_func", "wasmtime_component_val_new",
                   "wasm_byte_vec_new", "wasmtime_component_vallist_new_uninit"):
        assert hasattr(ffi.dll, symbol), f"C symbol {symbol} is gone"


def test_exception_relay_still_exists() -> None:
    assert "LAST_EXCEPTION" in vars(_enter), "wasmtime-py no longer relays host exceptions"
    assert "maybe_raise_last_exn" in inspect.getsource(_enter)
    assert callable(getattr(wasmtime.WasmtimeError, "_consume", None))
    # the stock callback reads args the same way: the C API owns and frees them after the call
    assert "convert_from_c(args[i])" in inspect.getsource(_linker)
