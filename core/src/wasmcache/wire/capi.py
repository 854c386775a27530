"""Register a wire table as raw C-API callbacks: the fast style.

Each shape has one callback factory; the table's payload and error forms pick the readers and
writers it uses. A callback catches everything: a `WireError` (the guest sent what this wire
cannot carry) traps the guest with one line, anything else (a host bug) is re-raised where the
guest's export was called, as wasmtime-py's own host functions do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _wasmtime as c
from ..errors import CacheError
from ..session import GuestSession
from . import WireError
from .table import ERROR_INDEX, ErrorForm, PayloadForm, Shape, WireTable, latin1_payload

RawFunc = c.RawFunc
define = c.add_raw_func  # define(instance, name, callback)


def _payload_reader(form: PayloadForm) -> tuple[int, Callable[[int, int], bytes]]:
    """(C value kind, read(data, size) -> bytes) of a payload argument."""
    if form is PayloadForm.LIST_U8:
        return c.KIND_LIST, c.read_u8_list
    return c.KIND_STRING, lambda data, size: latin1_payload(c.read_text(data, size))


def _payload_boxer(form: PayloadForm) -> Callable[[bytes], int]:
    if form is PayloadForm.LIST_U8:
        return c.box_u8_list
    return lambda value: c.box_string(value.decode("latin-1").encode("utf-8"))


def _error_boxer(form: ErrorForm) -> Callable[[CacheError], int]:
    if form is ErrorForm.ENUM:
        return lambda error: c.box_enum(error.value)
    return lambda error: c.box_u8(ERROR_INDEX[error])


def _guarded(label: str, body: Callable[[int, int, int], None]) -> RawFunc:
    """A C callback running body(context, args, results): a `WireError` traps with one line,
    any other exception is relayed to the export's caller; nothing unwinds through C."""

    def callback(_data: int, context: int, _type: int, args: int, _nargs: int, results: int,
                 _nresults: int) -> int:
        try:
            body(context, args, results)
            return 0
        except WireError as exc:
            return c.trap(f"{label}: {exc}")
        except BaseException as exc:  # noqa: BLE001 - never unwind through C
            return c.relay(exc)

    return callback


def _set(method: Callable[..., CacheError | None], table: WireTable, label: str) -> RawFunc:
    kind, read = _payload_reader(table.payload)
    box_error = _error_boxer(table.error)
    write_result, read_set_args = c.write_result, c.read_set_args

    def body(_context: int, args: int, results: int) -> None:
        key, size, data, ttl = read_set_args(args, kind)
        error = method(key, read(data, size), ttl)
        write_result(results, error is None, 0 if error is None else box_error(error))

    return _guarded(label, body)


def _get(method: Callable[..., bytes | CacheError], table: WireTable, label: str) -> RawFunc:
    box_payload, box_error = _payload_boxer(table.payload), _error_boxer(table.error)
    write_result, read_key = c.write_result, c.read_string_arg

    def body(_context: int, args: int, results: int) -> None:
        value = method(read_key(args))
        if value.__class__ is bytes:
            write_result(results, True, box_payload(value))  # type: ignore[arg-type]
        else:
            write_result(results, False, box_error(value))  # type: ignore[arg-type]

    return _guarded(label, body)


def _delete(method: Callable[..., CacheError | None], table: WireTable, label: str) -> RawFunc:
    box_error = _error_boxer(table.error)
    write_result, read_key = c.write_result, c.read_string_arg

    def body(_context: int, args: int, results: int) -> None:
        error = method(read_key(args))
        write_result(results, error is None, 0 if error is None else box_error(error))

    return _guarded(label, body)


_FACTORIES = {Shape.SET: _set, Shape.GET: _get, Shape.DELETE: _delete}


def register(instance: Any, table: WireTable, session: GuestSession) -> None:
    """Define `table`'s functions in `instance` (a `LinkerInstance`), served by `session`."""
    for function in table.functions:
        label = f"{table.interface}#{function.name}"
        callback = _FACTORIES[function.shape](getattr(session, function.method), table, label)
        define(instance, function.name, callback)


# --- wasi:keyvalue's two functions whose errors wasmtime-py 50 cannot lower ---------------

KvAnswer = bytes | None | tuple[str, str | None]
"""A payload, None (the ``none`` of ``option``) or an error as (case, message or None)."""


def option_payload_or_kv_error(answer: Callable[..., KvAnswer], with_key: bool,
                               label: str) -> RawFunc:
    """A callback for ``(self: borrow<R>[, key: string]) -> result<option<list<u8>>, error>``:
    ``answer(rep[, key])`` gets the borrowed resource's rep (the borrow is released here)."""
    write_result, take_rep, read_key = c.write_result, c.take_borrowed_rep, c.read_string_arg

    def body(context: int, args: int, results: int) -> None:
        rep = take_rep(context, args, 0)
        result = answer(rep, read_key(args, 1)) if with_key else answer(rep)
        if result is None:
            write_result(results, True, c.box_option(0))
        elif result.__class__ is bytes:
            write_result(results, True, c.box_option(c.box_u8_list(result)))  # type: ignore
        else:
            case, message = result  # type: ignore[misc]
            payload = 0 if message is None else c.box_string(message.encode("utf-8"))
            write_result(results, False, c.box_variant(case, payload))

    return _guarded(label, body)
