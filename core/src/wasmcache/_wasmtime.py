"""Every use of wasmtime-py's private internals, in one place, checked when it is imported.

The fast registration style (`wasmcache.wire.capi`) defines host functions straight on
Wasmtime's C API through ctypes: fixed signatures are unpacked with one `struct` call instead of
wasmtime-py's per-call type reflection, and a ``list<u8>`` is copied through a strided view
instead of one Python int per byte. That needs the C layout of ``wasmtime_component_val_t``, a
few C symbols, and wasmtime-py's exception relay; nothing else in wasmcache imports a private
wasmtime name.

Nothing here changes wasmtime-py: C prototypes are private copies (``dll[name]`` makes a new
function object), and no class or function of the package is replaced.

`PROBLEM` is None when the installed wasmtime-py matches every assumption (checked at import by
`_check_layout`), else one line saying what differs; `wasmcache.wire.style` then serves every
host function through the public API instead, with one warning.
"""

from __future__ import annotations

import ctypes
import itertools
import struct
import threading
from collections.abc import Callable
from ctypes import CFUNCTYPE, c_size_t, c_void_p, string_at
from typing import Any

# C value kinds (wasmtime_component_valkind_t) and the layout of wasmtime_component_val_t.
KIND_BOOL = 0
KIND_U8 = 2
KIND_U32 = 6
KIND_S64 = 7
KIND_STRING = 12
KIND_LIST = 13
KIND_TUPLE = 15
KIND_VARIANT = 16
KIND_ENUM = 17
KIND_OPTION = 18
KIND_RESULT = 19
KIND_RESOURCE = 21
VAL_SIZE = 32  # kind (u8), padding, then an 8-aligned 24-byte union at offset 8
PAYLOAD_OFFSET = 8

_VEC = struct.Struct("<QQ")  # wasm_byte_vec_t / vallist: size, data
_VAL_VEC = struct.Struct("<B7xQQ8x")  # a string / list / enum value: kind, size, data
_VAL_VARIANT = struct.Struct("<B7xQQQ")  # kind, discriminant name (size, data), payload box
_VAL_SMALL = struct.Struct("<B7xQ16x")  # kind and an 8-byte payload (u8, u32, s64, pointer)
_VAL_U8 = struct.Struct("<B7xB23x")
_RESULT = struct.Struct("<B7x?7xQ")  # kind, is_ok, boxed payload pointer (24 of 32 bytes)
_STRING_ARG = struct.Struct("<B7xQQ8x")
_SET_ARGS = struct.Struct("<B7xQQ8xB7xQQ8xB7xQ16x")
_POINTER_ARG = struct.Struct("<B7xQ16x")
_U32 = struct.Struct("<I")
_VAL_U32 = struct.Struct("<B7xI20x")
_VAL_S64 = struct.Struct("<B7xq16x")
_VAL_BOOL = struct.Struct("<B7x?23x")
_PAIR = struct.Struct("<B7xQQ8xB7xQQ8x")  # two string-like values (a tuple's elements)

RawFunc = Callable[[int, int, int, int, int, int, int], int]
"""A host callback: (data, context, func type, args, nargs, results, nresults) -> error ptr."""

PROBLEM: str | None = None

try:
    from wasmtime import WasmtimeError
    from wasmtime import _ffi as ffi
    from wasmtime.component import _enter

    _dll = ffi.dll
    _CALLBACK = CFUNCTYPE(c_size_t, c_void_p, c_void_p, c_void_p, c_void_p, c_size_t, c_void_p,
                          c_size_t)
    _FINALIZER = CFUNCTYPE(None, c_void_p)

    def _prototype(name: str, restype: Any, *argtypes: Any) -> Any:
        function = _dll[name]  # a new function object: wasmtime-py's own stays as it is
        function.restype = restype
        function.argtypes = list(argtypes)
        return function

    _add_func = _prototype("wasmtime_component_linker_instance_add_func", c_void_p, c_void_p,
                           ctypes.c_char_p, c_size_t, _CALLBACK, c_void_p, _FINALIZER)
    _val_new = _prototype("wasmtime_component_val_new", c_void_p, ctypes.c_char_p)
    _byte_vec_new = _prototype("wasm_byte_vec_new", None, c_void_p, c_size_t, ctypes.c_char_p)
    _vallist_new_uninit = _prototype("wasmtime_component_vallist_new_uninit", None, c_void_p,
                                     c_size_t)
    _valtuple_new_uninit = _prototype("wasmtime_component_valtuple_new_uninit", None, c_void_p,
                                      c_size_t)
    _error_new = _prototype("wasmtime_error_new", c_void_p, ctypes.c_char_p)
    _any_to_host = _prototype("wasmtime_component_resource_any_to_host", c_void_p, c_void_p,
                              c_void_p, c_void_p)
    _any_delete = _prototype("wasmtime_component_resource_any_delete", None, c_void_p)
    _host_rep = _prototype("wasmtime_component_resource_host_rep", ctypes.c_uint32, c_void_p)
    _host_delete = _prototype("wasmtime_component_resource_host_delete", None, c_void_p)
except (ImportError, AttributeError) as exc:  # another wasmtime-py: the public API serves
    PROBLEM = f"wasmtime-py internals are missing: {exc}"

#: The whole user address space as one byte view (nothing is touched until indexed), so a C
#: value is read with `struct.unpack_from` and a string decoded straight from Wasmtime's
#: buffer: no ctypes call and no intermediate bytes per argument. User-space addresses on
#: x86-64 and AArch64 Linux stay below 2**48; `read_text` falls back to `string_at` above it.
_MEM_END = 1 << 48
try:
    _MEM = memoryview((ctypes.c_char * _MEM_END).from_address(0)).cast("B")
except (ValueError, OverflowError, MemoryError) as exc:  # a 32-bit or unusual platform
    _MEM = memoryview(b"")
    PROBLEM = PROBLEM or f"no address-space view on this platform: {exc}"
_scratch = threading.local()  # .vec: this thread's wasm_byte_vec_t out-parameter
_u8_kinds = bytes([KIND_U8]) * (1 << 20)  # the kind byte of every element of a list<u8>


def _check_layout() -> str | None:
    """None when every assumption above holds for the installed wasmtime-py, else one line."""
    val = ffi.wasmtime_component_val_t
    union = ffi.wasmtime_component_valunion_t
    expected = {
        "sizeof(wasmtime_component_val_t)": (ctypes.sizeof(val), VAL_SIZE),
        "offset of the value union": (val.of.offset, PAYLOAD_OFFSET),
        "offset of valresult.val": (ffi.wasmtime_component_valresult_t.val.offset, 8),
        "offset of valvariant.val": (ffi.wasmtime_component_valvariant_t.val.offset, 16),
        "offset of wasm_byte_vec_t.data": (ffi.wasm_byte_vec_t.data.offset, 8),
        "offset of vallist.data": (ffi.wasmtime_component_vallist_t.data.offset, 8),
        "offset of valtuple.data": (ffi.wasmtime_component_valtuple_t.data.offset, 8),
        "sizeof(union)": (ctypes.sizeof(union), 24),
    }
    kinds = {"BOOL": KIND_BOOL, "U8": KIND_U8, "U32": KIND_U32, "S64": KIND_S64,
             "STRING": KIND_STRING, "LIST": KIND_LIST, "TUPLE": KIND_TUPLE,
             "VARIANT": KIND_VARIANT,
             "ENUM": KIND_ENUM, "OPTION": KIND_OPTION, "RESULT": KIND_RESULT,
             "RESOURCE": KIND_RESOURCE}
    for name, kind in kinds.items():
        expected[f"WASMTIME_COMPONENT_{name}"] = (getattr(ffi, f"WASMTIME_COMPONENT_{name}").value,
                                                  kind)
    wrong = [f"{name} is {got}, expected {want}" for name, (got, want) in expected.items()
             if got != want]
    proto = ffi.wasmtime_component_func_callback_t
    if proto._restype_ is not c_size_t or len(proto._argtypes_) != 7:
        wrong.append("wasmtime_component_func_callback_t changed its signature")
    probe = ctypes.create_string_buffer(b"wasmcache \xff probe", 20)
    if _MEM[ctypes.addressof(probe):ctypes.addressof(probe) + 20].tobytes() != probe.raw:
        wrong.append("the address-space view does not read this process's memory")
    if "LAST_EXCEPTION" not in vars(_enter) or not callable(getattr(_enter, "maybe_raise_last_exn",
                                                                     None)):
        wrong.append("wasmtime.component._enter no longer relays host exceptions")
    return "; ".join(wrong) or None


if PROBLEM is None:
    try:
        PROBLEM = _check_layout()
    except Exception as exc:  # noqa: BLE001 - any surprise means: do not use the internals
        PROBLEM = f"cannot check wasmtime-py's C layout: {type(exc).__name__}: {exc}"


# ---- reading arguments ------------------------------------------------------------------


def read_text(data: int, size: int) -> str:
    """`size` bytes of UTF-8 at `data`, decoded in place."""
    if not size:
        return ""
    end = data + size
    if end > _MEM_END:
        return string_at(data, size).decode("utf-8")
    return str(_MEM[data:end], "utf-8")


def read_string_arg(args: int, index: int = 0) -> str:
    """The ``string`` argument at `index`."""
    kind, size, data = _STRING_ARG.unpack_from(_MEM, args + index * VAL_SIZE)
    if kind != KIND_STRING:
        raise TypeError(f"expected a string argument, got C value kind {kind}")
    return read_text(data, size)


def read_set_args(args: int, payload_kind: int) -> tuple[str, int, int, int | None]:
    """(key, payload size, payload data, ttl) of ``(string, payload, option<u32>)``."""
    (k_kind, k_size, k_data, v_kind, v_size, v_data, o_kind, option) = _SET_ARGS.unpack_from(
        _MEM, args)
    if (k_kind, v_kind, o_kind) != (KIND_STRING, payload_kind, KIND_OPTION):
        raise TypeError(f"unexpected C value kinds {(k_kind, v_kind, o_kind)} for set")
    ttl = _U32.unpack_from(_MEM, option + PAYLOAD_OFFSET)[0] if option else None
    return read_text(k_data, k_size), v_size, v_data, ttl


def _kind_error(what: str, kind: int) -> TypeError:
    return TypeError(f"expected {what}, got C value kind {kind}")


def read_vec(address: int, kind: int) -> tuple[int, int]:
    """(data, size) of the string or list value of `kind` at `address`."""
    got, size, data = _VAL_VEC.unpack_from(_MEM, address)
    if got != kind:
        raise _kind_error(f"C value kind {kind}", got)
    return data, size


def read_string(address: int) -> str:
    """The ``string`` value at `address`."""
    kind, size, data = _VAL_VEC.unpack_from(_MEM, address)
    if kind != KIND_STRING:
        raise _kind_error("a string", kind)
    return read_text(data, size)


def read_u32(address: int) -> int:
    kind, value = _VAL_U32.unpack_from(_MEM, address)
    if kind != KIND_U32:
        raise _kind_error("a u32", kind)
    return value  # type: ignore[no-any-return]


def read_s64(address: int) -> int:
    kind, value = _VAL_S64.unpack_from(_MEM, address)
    if kind != KIND_S64:
        raise _kind_error("an s64", kind)
    return value  # type: ignore[no-any-return]


def read_option(address: int, read: Callable[[int], Any]) -> Any:
    """The ``option`` value at `address`: None, or its payload read by ``read(address)``."""
    kind, payload = _POINTER_ARG.unpack_from(_MEM, address)
    if kind != KIND_OPTION:
        raise _kind_error("an option", kind)
    return read(payload) if payload else None


def read_list(address: int, read: Callable[[int], Any]) -> list[Any]:
    """The ``list`` value at `address`, each element read by ``read(address)``."""
    data, size = read_vec(address, KIND_LIST)
    return [read(element) for element in range(data, data + size * VAL_SIZE, VAL_SIZE)]


def read_string_pairs(address: int, second: int, read_second: Callable[[int, int], Any],
                      read_first: Callable[[int, int], str] = read_text
                      ) -> list[tuple[str, Any]]:
    """The ``list<tuple<string, T>>`` value at `address`; T is a string or list of C kind
    `second`, read by ``read_second(data, size)`` (the string by ``read_first``)."""
    data, size = read_vec(address, KIND_LIST)
    items = []
    unpack_pair, unpack_vec, mem = _PAIR.unpack_from, _VAL_VEC.unpack_from, _MEM
    for element in range(data, data + size * VAL_SIZE, VAL_SIZE):
        kind, count, pair = unpack_vec(mem, element)
        if kind != KIND_TUPLE or count != 2:
            raise _kind_error("a 2-tuple", kind)
        k_kind, k_size, k_data, v_kind, v_size, v_data = unpack_pair(mem, pair)
        if (k_kind, v_kind) != (KIND_STRING, second):
            raise _kind_error(f"(string, kind {second})", v_kind)
        items.append((read_first(k_data, k_size), read_second(v_data, v_size)))
    return items


def read_u8_list(data: int, size: int) -> bytes:
    """The bytes of a ``list<u8>`` (each byte sits in a 32-byte C value)."""
    if not size:
        return b""
    vals = (ctypes.c_uint8 * (size * VAL_SIZE)).from_address(data)
    return memoryview(vals).cast("B")[PAYLOAD_OFFSET::VAL_SIZE].tobytes()


def take_borrowed_rep(context: int, args: int, index: int = 0) -> int:
    """The host rep of the ``borrow<resource>`` argument at `index`, releasing the borrow.

    Wasmtime traps a call that returns with a borrow still held ("borrow handles still
    remain"); converting it to a host resource releases it, as wasmtime-py's ``to_host`` does.
    The pointer is taken out of the argument (NULL left behind) because it is freed here.
    """
    address = args + index * VAL_SIZE
    kind, pointer = _POINTER_ARG.unpack_from(_MEM, address)
    if kind != KIND_RESOURCE or not pointer:
        raise TypeError(f"expected a resource argument, got C value kind {kind}")
    struct.pack_into("<Q", _MEM, address + PAYLOAD_OFFSET, 0)
    host = ctypes.c_void_p()
    try:
        error = _any_to_host(context, pointer, ctypes.byref(host))
        if error:
            raise WasmtimeError._from_ptr(ctypes.cast(error, ctypes.POINTER(ffi.wasmtime_error_t)))
        try:
            return int(_host_rep(host))
        finally:
            _host_delete(host)
    finally:
        _any_delete(pointer)


# ---- writing results --------------------------------------------------------------------


def _boxed(val: bytes) -> int:
    return _val_new(val)  # type: ignore[no-any-return]


def write_result(results: int, ok: bool, payload: int) -> None:
    """``result`` in the results slot; `payload` is a boxed value (0 for none)."""
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


def box_enum(case: str) -> int:
    size, data = _new_byte_vec(case.encode())
    return _boxed(_VAL_VEC.pack(KIND_ENUM, size, data))


def box_string(utf8: bytes) -> int:
    return _boxed(string_val(utf8))


def box_val(val: bytes) -> int:
    """A boxed copy of a 32-byte C value (which it takes over)."""
    return _boxed(val)


def box_u8(value: int) -> int:
    return _boxed(_VAL_U8.pack(KIND_U8, value))


def box_option(payload: int) -> int:
    """``option``: `payload` is a boxed value, or 0 for none."""
    return _boxed(_VAL_SMALL.pack(KIND_OPTION, payload))


def box_variant(case: str, payload: int) -> int:
    """A variant case by name, with a boxed payload or 0 when the case has none."""
    size, data = _new_byte_vec(case.encode())
    return _boxed(_VAL_VARIANT.pack(KIND_VARIANT, size, data, payload))


def box_u32(value: int) -> int:
    return _boxed(_VAL_U32.pack(KIND_U32, value))


def box_s64(value: int) -> int:
    return _boxed(_VAL_S64.pack(KIND_S64, value))


def box_bool(value: bool) -> int:
    return _boxed(_VAL_BOOL.pack(KIND_BOOL, value))


def _vallist(vals: list[bytes], tuple_: bool = False) -> tuple[int, int]:
    """(size, data) of a new C value list (or tuple) holding `vals` (32-byte C values, moved
    in: they own what they point to)."""
    vec = ctypes.create_string_buffer(16)
    (_valtuple_new_uninit if tuple_ else _vallist_new_uninit)(vec, len(vals))
    size, data = _VEC.unpack(vec.raw)
    if size:
        _MEM[data:data + size * VAL_SIZE] = b"".join(vals)
    return size, data


def string_val(utf8: bytes) -> bytes:
    """A ``string`` C value (32 bytes) owning a copy of `utf8`."""
    size, data = _new_byte_vec(utf8)
    return _VAL_VEC.pack(KIND_STRING, size, data)


def option_val(payload: int) -> bytes:
    """An ``option`` C value: `payload` is a boxed value, or 0 for none."""
    return _VAL_SMALL.pack(KIND_OPTION, payload)


def list_val(vals: list[bytes]) -> bytes:
    return _VAL_VEC.pack(KIND_LIST, *_vallist(vals))


def box_tuple(vals: list[bytes]) -> int:
    return _boxed(_VAL_VEC.pack(KIND_TUPLE, *_vallist(vals, tuple_=True)))


def box_list(vals: list[bytes]) -> int:
    return _boxed(list_val(vals))


def box_u8_list(value: bytes) -> int:
    global _u8_kinds
    size = len(value)
    vec = ctypes.create_string_buffer(16)
    _vallist_new_uninit(vec, size)
    _, data = _VEC.unpack(vec.raw)
    if size:
        if size > len(_u8_kinds):
            _u8_kinds = bytes([KIND_U8]) * size
        vals = memoryview((ctypes.c_uint8 * (size * VAL_SIZE)).from_address(data)).cast("B")
        vals[0::VAL_SIZE] = memoryview(_u8_kinds)[:size]
        vals[PAYLOAD_OFFSET::VAL_SIZE] = value
    return _boxed(_VAL_VEC.pack(KIND_LIST, size, data))


# ---- ending a call ----------------------------------------------------------------------


def trap(message: str) -> int:
    """An error pointer that traps the guest with `message` (what the caller sees)."""
    return _error_new(message.encode("utf-8", "replace")) or 0  # type: ignore[no-any-return]


def relay(exc: BaseException) -> int:
    """Trap the guest and have wasmtime-py re-raise `exc` where the guest's export was called,
    as its own host functions do for a Python exception (a host bug, not a guest's input)."""
    if isinstance(exc, WasmtimeError):
        return ctypes.cast(exc._consume(), c_void_p).value or 0
    _enter.LAST_EXCEPTION = exc if isinstance(exc, Exception) else RuntimeError(repr(exc))
    return trap("python exception")


# ---- registering ------------------------------------------------------------------------

_live: dict[int, Any] = {}
_ids = itertools.count(1)  # next() is atomic under the GIL: linkers may be built in threads


def _finalize_callback(data: int | None) -> None:
    _live.pop(data or 0, None)


_finalize = _FINALIZER(_finalize_callback) if PROBLEM is None else None


def add_raw_func(instance: Any, name: str, func: RawFunc) -> None:
    """Define `func` as `name` in a `LinkerInstance` (kept alive until Wasmtime drops it)."""
    callback = _CALLBACK(func)
    ident = next(_ids)
    _live[ident] = callback
    raw_name = name.encode()
    err = _add_func(ctypes.cast(instance.ptr(), c_void_p), raw_name, len(raw_name), callback,
                    ident, _finalize)
    if err:
        _live.pop(ident, None)
        raise WasmtimeError._from_ptr(ctypes.cast(err, ctypes.POINTER(ffi.wasmtime_error_t)))


# ---- the pooling instance allocator -------------------------------------------------------
# wasmtime-py's `Config` has no setter for Wasmtime's pooling allocator, but its C library
# exports one; these private prototypes reach it. Independent of the value layout above: a
# wasmtime-py whose layout changed may still pool, and one without these symbols still runs.

POOLING_PROBLEM: str | None = None

try:
    from wasmtime import Config as _Config

    _pooling_new = _prototype("wasmtime_pooling_allocation_config_new", c_void_p)
    _pooling_delete = _prototype("wasmtime_pooling_allocation_config_delete", None, c_void_p)
    _pooling_keep_memory = _prototype(
        "wasmtime_pooling_allocation_config_linear_memory_keep_resident_set", None, c_void_p,
        c_size_t)
    _pooling_keep_table = _prototype(
        "wasmtime_pooling_allocation_config_table_keep_resident_set", None, c_void_p, c_size_t)
    _pooling_strategy_set = _prototype("wasmtime_pooling_allocation_strategy_set", None,
                                       c_void_p, c_void_p)
    if not callable(getattr(_Config, "ptr", None)):
        POOLING_PROBLEM = "wasmtime.Config has no ptr()"
except (ImportError, AttributeError, NameError) as exc:
    POOLING_PROBLEM = f"the pooling allocator's C functions are missing: {exc}"


def use_pooling_allocator(config: Any, keep_resident: int) -> bool:
    """Give `config` Wasmtime's pooling instance allocator, keeping up to `keep_resident`
    bytes of each linear memory and table resident when an instance's slot is reused (they are
    reset with memset instead of madvise, which would make the kernel flush the TLB of every
    other thread's core). False, and `config` unchanged, when this wasmtime-py lacks the
    functions (`POOLING_PROBLEM` says why); Wasmtime's defaults otherwise (1,000 concurrent
    component instances, 1,000 memories and tables, compiled code unchanged)."""
    if POOLING_PROBLEM is not None:
        return False
    pooling = _pooling_new()
    try:
        _pooling_keep_memory(pooling, keep_resident)
        _pooling_keep_table(pooling, keep_resident)
        _pooling_strategy_set(ctypes.cast(config.ptr(), c_void_p), pooling)
    finally:
        _pooling_delete(pooling)
    return True
