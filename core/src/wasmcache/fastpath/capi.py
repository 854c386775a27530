"""Host functions registered straight on Wasmtime's C API, reading and writing C values in bulk.

wasmtime-py's ``LinkerInstance.add_func`` re-reads the function type through about 20 FFI calls
on every call and converts a ``list<u8>`` one Python int per byte. Our three signatures are
fixed, so these callbacks unpack the C argument array with one `struct` call, copy a
``list<u8>`` through a strided memoryview (each byte sits in a 32-byte
``wasmtime_component_val_t``), and build results with Wasmtime's own allocators (the C API
frees them after the call).

This leans on the C layout of ``wasmtime_component_val_t`` in wasmtime 50.0.1 (pinned exactly);
`check_layout` verifies every assumption and tests/test_fastpath_internals.py fails loudly when an
upgrade breaks one.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from collections.abc import Callable
from ctypes import CFUNCTYPE, c_size_t, c_void_p, string_at
from typing import Any

from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime.component import LinkerInstance, _enter

from ..errors import CacheError
from ..host import CacheHost
from .adapter import ERROR_CASES

# C value kinds (wasmtime_component_valkind_t) and the layout of wasmtime_component_val_t.
KIND_U8 = 2
KIND_U32 = 6
KIND_STRING = 12
KIND_LIST = 13
KIND_ENUM = 17
KIND_OPTION = 18
KIND_RESULT = 19
VAL_SIZE = 32  # kind (u8), padding, then an 8-aligned 24-byte union at offset 8
PAYLOAD_OFFSET = 8

_VEC = struct.Struct("<QQ")  # wasm_byte_vec_t / vallist: size, data
_VAL_VEC = struct.Struct("<B7xQQ8x")  # a string/list/enum value: kind, size, data
_VAL_U8 = struct.Struct("<B7xB23x")
_scratch = threading.local()  # .vec: this thread's wasm_byte_vec_t out-parameter (see below)
_RESULT = struct.Struct("<B7x?7xQ")  # kind, is_ok, boxed payload pointer (24 of 32 bytes)
_KEY_ARG = struct.Struct("<B7xQQ8x")
_SET_ARGS = struct.Struct("<B7xQQ8xB7xQQ8xB7xQ16x")
_U32 = struct.Struct("<I")

_dll = ffi.dll
# Private prototypes (`dll[name]` makes a new function object; wasmtime-py's stay untouched).
_CALLBACK = CFUNCTYPE(c_size_t, c_void_p, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p,
                      c_size_t)
_FINALIZER = CFUNCTYPE(None, c_void_p)
_add_func = _dll["wasmtime_component_linker_instance_add_func"]
_add_func.restype = c_void_p
_add_func.argtypes = [c_void_p, ctypes.c_char_p, c_size_t, _CALLBACK, c_void_p, _FINALIZER]
_val_new = _dll["wasmtime_component_val_new"]
_val_new.restype = c_void_p
_val_new.argtypes = [ctypes.c_char_p]
_byte_vec_new = _dll["wasm_byte_vec_new"]
_byte_vec_new.restype = None
_byte_vec_new.argtypes = [c_void_p, c_size_t, ctypes.c_char_p]
_vallist_new_uninit = _dll["wasmtime_component_vallist_new_uninit"]
_vallist_new_uninit.restype = None
_vallist_new_uninit.argtypes = [c_void_p, c_size_t]

#: The whole user address space as one byte view (nothing is touched until indexed), so a C
#: value is read with `struct.unpack_from` and a string decoded straight from Wasmtime's
#: buffer: no ctypes call and no intermediate bytes per argument. User-space addresses on
#: x86-64 and AArch64 Linux stay below 2**48; `_text` falls back to `string_at` above it.
_MEM_END = 1 << 48
_MEM = memoryview((ctypes.c_char * _MEM_END).from_address(0)).cast("B")
_ERROR_INDEX = {CacheError(case): index for index, case in enumerate(ERROR_CASES)}
_kinds = bytes([KIND_U8]) * (1 << 20)  # the kind byte of every element of a list<u8>


def check_layout() -> None:
    """Raise `RuntimeError` if wasmtime-py's C value layout is not the one this module writes."""
    val = ffi.wasmtime_component_val_t
    union = ffi.wasmtime_component_valunion_t
    expected = {
        "sizeof(wasmtime_component_val_t)": (ctypes.sizeof(val), VAL_SIZE),
        "offset of the value union": (val.of.offset, PAYLOAD_OFFSET),
        "offset of valresult.val": (ffi.wasmtime_component_valresult_t.val.offset, 8),
        "offset of wasm_byte_vec_t.data": (ffi.wasm_byte_vec_t.data.offset, 8),
        "offset of vallist.data": (ffi.wasmtime_component_vallist_t.data.offset, 8),
        "sizeof(union)": (ctypes.sizeof(union), 24),
        "WASMTIME_COMPONENT_U8": (ffi.WASMTIME_COMPONENT_U8.value, KIND_U8),
        "WASMTIME_COMPONENT_U32": (ffi.WASMTIME_COMPONENT_U32.value, KIND_U32),
        "WASMTIME_COMPONENT_STRING": (ffi.WASMTIME_COMPONENT_STRING.value, KIND_STRING),
        "WASMTIME_COMPONENT_LIST": (ffi.WASMTIME_COMPONENT_LIST.value, KIND_LIST),
        "WASMTIME_COMPONENT_ENUM": (ffi.WASMTIME_COMPONENT_ENUM.value, KIND_ENUM),
        "WASMTIME_COMPONENT_OPTION": (ffi.WASMTIME_COMPONENT_OPTION.value, KIND_OPTION),
        "WASMTIME_COMPONENT_RESULT": (ffi.WASMTIME_COMPONENT_RESULT.value, KIND_RESULT),
    }
    wrong = [f"{name} is {got}, expected {want}" for name, (got, want) in expected.items()
             if got != want]
    probe = ctypes.create_string_buffer(b"wasmcache \xff probe", 20)
    if _MEM[ctypes.addressof(probe):ctypes.addressof(probe) + 20].tobytes() != probe.raw:
        wrong.append("the address-space view does not read this process's memory")
    if not hasattr(_enter, "LAST_EXCEPTION") or not hasattr(WasmtimeError, "_consume"):
        wrong.append("wasmtime.component._enter.LAST_EXCEPTION / WasmtimeError._consume is gone")
    if wrong:
        raise RuntimeError("wasmcache's fast path does not match this wasmtime-py C layout: "
                           + "; ".join(wrong) + " (set WASMCACHE_FAST_PATH=0 and report this)")


# ---- reading arguments ------------------------------------------------------------------


def _key(args: int) -> str:
    kind, size, data = _KEY_ARG.unpack_from(_MEM, args)
    if kind != KIND_STRING:
        raise TypeError(f"expected a string argument, got C value kind {kind}")
    return _text(data, size) if size else ""


def _text(data: int, size: int) -> str:
    """`size` bytes of UTF-8 at `data`, decoded in place."""
    end = data + size
    if end > _MEM_END:
        return string_at(data, size).decode("utf-8")
    return str(_MEM[data:end], "utf-8")


def _bytes_of_u8_list(data: int, size: int) -> bytes:
    if not size:
        return b""
    vals = (ctypes.c_uint8 * (size * VAL_SIZE)).from_address(data)
    return memoryview(vals).cast("B")[PAYLOAD_OFFSET::VAL_SIZE].tobytes()


def _set_args(args: int, list_kind: int) -> tuple[str, int, int, int | None]:
    (k_kind, k_size, k_data, v_kind, v_size, v_data, o_kind, option) = _SET_ARGS.unpack_from(
        _MEM, args)
    if (k_kind, v_kind, o_kind) != (KIND_STRING, list_kind, KIND_OPTION):
        raise TypeError(f"unexpected C value kinds {(k_kind, v_kind, o_kind)} for set")
    key = _text(k_data, k_size) if k_size else ""
    ttl = None
    if option:
        ttl = _U32.unpack_from(_MEM, option + PAYLOAD_OFFSET)[0]
    return key, v_size, v_data, ttl


# ---- writing results --------------------------------------------------------------------


def _boxed(val: bytes) -> int:
    return _val_new(val)  # type: ignore[no-any-return]


def _write_result(results: int, ok: bool, payload: int) -> None:
    _RESULT.pack_into(_MEM, results, KIND_RESULT, ok, payload)


def _new_byte_vec(data: bytes) -> tuple[int, int]:
    """(size, pointer) of a copy of `data` in a byte vector Wasmtime owns (and frees).

    The 16-byte wasm_byte_vec_t it is returned through is scratch space kept per thread
    (ctypes calls release the GIL, so threads must not share it): one ctypes call per value.
    """
    try:
        vec = _scratch.vec
    except AttributeError:
        _scratch.buffer = ctypes.create_string_buffer(16)
        vec = _scratch.vec = ctypes.addressof(_scratch.buffer)
    _byte_vec_new(vec, len(data), data)
    return _VEC.unpack_from(_MEM, vec)  # type: ignore[return-value]


def _boxed_enum(case: str) -> int:
    size, data = _new_byte_vec(case.encode())
    return _boxed(_VAL_VEC.pack(KIND_ENUM, size, data))


def _boxed_u8_list(value: bytes) -> int:
    size = len(value)
    global _kinds
    vec = ctypes.create_string_buffer(16)
    _vallist_new_uninit(vec, size)
    _, data = _VEC.unpack(vec.raw)
    if size:
        if size > len(_kinds):
            _kinds = bytes([KIND_U8]) * size
        vals = memoryview((ctypes.c_uint8 * (size * VAL_SIZE)).from_address(data)).cast("B")
        vals[0::VAL_SIZE] = memoryview(_kinds)[:size]
        vals[PAYLOAD_OFFSET::VAL_SIZE] = value
    return _boxed(_VAL_VEC.pack(KIND_LIST, size, data))


def _boxed_string(text: bytes) -> int:
    size, data = _new_byte_vec(text)
    return _boxed(_VAL_VEC.pack(KIND_STRING, size, data))


def _boxed_error_code(err: CacheError) -> int:
    return _boxed(_VAL_U8.pack(KIND_U8, _ERROR_INDEX[err]))


def _fail(exc: BaseException) -> int:
    """Trap the guest; wasmtime-py re-raises `exc` where the guest's export was called."""
    if isinstance(exc, WasmtimeError):
        error = exc
    else:
        _enter.LAST_EXCEPTION = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
        error = WasmtimeError("python exception")
    return ctypes.cast(error._consume(), c_void_p).value or 0


# ---- the callbacks ----------------------------------------------------------------------

RawFunc = Callable[[int, int, int, int, int, int, int], int]


def cache_funcs(host: CacheHost) -> dict[str, RawFunc]:
    """`wasmcache:cache/cache` itself: payloads as ``list<u8>``, errors as the enum."""
    host_set, host_get, host_delete = host.set, host.get, host.delete

    def set_(_d: int, _c: int, _t: int, args: int, _n: int, results: int, _r: int) -> int:
        try:
            key, v_size, v_data, ttl = _set_args(args, KIND_LIST)
            err = host_set(key, _bytes_of_u8_list(v_data, v_size), ttl)
            _write_result(results, err is None, 0 if err is None else _boxed_enum(err.value))
            return 0
        except BaseException as exc:  # noqa: BLE001 - never unwind through C
            return _fail(exc)

    def get(_d: int, _c: int, _t: int, args: int, _n: int, results: int, _r: int) -> int:
        try:
            value = host_get(_key(args))
            if isinstance(value, bytes):
                _write_result(results, True, _boxed_u8_list(value))
            else:
                _write_result(results, False, _boxed_enum(value.value))
            return 0
        except BaseException as exc:  # noqa: BLE001
            return _fail(exc)

    def delete(_d: int, _c: int, _t: int, args: int, _n: int, results: int, _r: int) -> int:
        try:
            err = host_delete(_key(args))
            _write_result(results, err is None, 0 if err is None else _boxed_enum(err.value))
            return 0
        except BaseException as exc:  # noqa: BLE001
            return _fail(exc)

    return {"set": set_, "get": get, "delete": delete}


def payload_funcs(host: CacheHost) -> dict[str, RawFunc]:
    """The adapter's private interface: payloads as Latin-1 strings, errors as the case index."""
    host_set, host_get, host_delete = host.set, host.get, host.delete

    def set_(_d: int, _c: int, _t: int, args: int, _n: int, results: int, _r: int) -> int:
        try:
            key, v_size, v_data, ttl = _set_args(args, KIND_STRING)
            value = (_text(v_data, v_size).encode("latin-1")
                     if v_size else b"")
            err = host_set(key, value, ttl)
            _write_result(results, err is None, 0 if err is None else _boxed_error_code(err))
            return 0
        except BaseException as exc:  # noqa: BLE001
            return _fail(exc)

    def get(_d: int, _c: int, _t: int, args: int, _n: int, results: int, _r: int) -> int:
        try:
            value = host_get(_key(args))
            if isinstance(value, bytes):
                _write_result(results, True,
                              _boxed_string(value.decode("latin-1").encode("utf-8")))
            else:
                _write_result(results, False, _boxed_error_code(value))
            return 0
        except BaseException as exc:  # noqa: BLE001
            return _fail(exc)

    def delete(_d: int, _c: int, _t: int, args: int, _n: int, results: int, _r: int) -> int:
        try:
            err = host_delete(_key(args))
            _write_result(results, err is None, 0 if err is None else _boxed_error_code(err))
            return 0
        except BaseException as exc:  # noqa: BLE001
            return _fail(exc)

    return {"set": set_, "get": get, "delete": delete}


_live: dict[int, Any] = {}
_next_id = 1


@_FINALIZER
def _finalize(data: int | None) -> None:
    _live.pop(data or 0, None)


def add_raw_funcs(instance: LinkerInstance, funcs: dict[str, RawFunc]) -> None:
    """Define `funcs` in `instance` as C callbacks (kept alive until Wasmtime drops them)."""
    global _next_id
    for name, func in funcs.items():
        callback = _CALLBACK(func)
        ident = _next_id
        _next_id += 1
        _live[ident] = callback
        raw_name = name.encode()
        err = _add_func(ctypes.cast(instance.ptr(), c_void_p), raw_name, len(raw_name),
                        callback, ident, _finalize)
        if err:
            _live.pop(ident, None)
            raise WasmtimeError._from_ptr(ctypes.cast(err, ctypes.POINTER(ffi.wasmtime_error_t)))
