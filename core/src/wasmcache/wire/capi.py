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
from ..keyvalue.host import KvError
from . import WireError
from .table import (
    ERROR_INDEX,
    Answer,
    ErrorForm,
    Param,
    PayloadForm,
    Shape,
    Signature,
    TextForm,
    WireTable,
    latin1_payload,
    text_in,
    text_out,
)

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


def _text_boxer(form: TextForm) -> Callable[[str], bytes]:
    """A key, cursor or message as the 32-byte C ``string`` value a table of `form` sends."""
    if form is TextForm.PLAIN:
        return lambda text: c.string_val(text.encode("utf-8"))
    return lambda text: c.string_val(text_out(text).encode("utf-8"))


def _text_reader(form: TextForm) -> Callable[[int, int], str]:
    """read(data, size) of a key, name or cursor sent to a table of `form`."""
    if form is TextForm.PLAIN:
        return c.read_text
    return lambda data, size: text_in(c.read_text(data, size))


def _key_reader(form: TextForm) -> Callable[[int], str]:
    """read(address of the C ``string`` value) of a key, name or cursor."""
    if form is TextForm.PLAIN:
        return c.read_string
    read_string = c.read_string
    return lambda address: text_in(read_string(address))


def _error_boxer(form: ErrorForm, text: TextForm = TextForm.PLAIN) -> Callable[[Any], int]:
    if form is ErrorForm.ENUM:
        return lambda error: c.box_enum(error.value)
    if form is ErrorForm.VARIANT:
        box_text = _text_boxer(text)
        return lambda error: c.box_variant(error.case, 0 if error.message is None
                                           else c.box_val(box_text(error.message)))
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


# --- resource-free functions (`Signature`): one reader per parameter, one writer per answer --

def _arg_reader(param: Param, table: WireTable) -> Callable[[int], Any]:
    """read(address of the C value) -> the Python value of a `param`."""
    if param is Param.ID:
        return c.read_u32
    if param is Param.DELTA:
        return c.read_s64
    read_key = _key_reader(table.text)
    if param is Param.CURSOR:
        return lambda address: c.read_option(address, read_key)
    if param is Param.KEYS:
        return lambda address: c.read_list(address, read_key)
    kind, read = _payload_reader(table.payload)
    if param is Param.PAYLOAD:
        return lambda address: read(*c.read_vec(address, kind))
    if param is Param.ITEMS:
        read_text = _text_reader(table.text)
        return lambda address: c.read_string_pairs(address, kind, read, read_text)
    return read_key  # NAME, KEY


def _answer_writer(answer: Answer, table: WireTable) -> Callable[[int, Any], None]:
    """write(results, what the method returned) for an `answer`."""
    box_error = _error_boxer(table.error, table.text)
    box_payload, box_text = _payload_boxer(table.payload), _text_boxer(table.text)
    write_result = c.write_result

    def ok_or_error(box_ok: Callable[[Any], int]) -> Callable[[int, Any], None]:
        def write(results: int, value: Any) -> None:
            if value.__class__ is KvError:
                write_result(results, False, box_error(value))
            else:
                write_result(results, True, box_ok(value))

        return write

    def none_or(case: Callable[[Any], int]) -> Callable[[int, Any], None]:
        """None is ok(_); `case` boxes anything else but a `KvError` as an error."""
        def write(results: int, value: Any) -> None:
            if value is None:
                write_result(results, True, 0)
            else:
                write_result(results, False, box_error(value) if value.__class__ is KvError
                             else case(value))

        return write

    def payload(results: int, value: Any) -> None:
        if value.__class__ is bytes:
            write_result(results, True, box_payload(value))
        else:
            write_result(results, False, c.box_variant("none", 0) if value is None
                         else box_error(value))

    def page(value: tuple[list[str], str | None]) -> int:
        keys, cursor = value
        return c.box_tuple([c.list_val([box_text(key) for key in keys]),
                            c.option_val(0 if cursor is None else c.box_val(box_text(cursor)))])

    def payloads(values: list[bytes | None]) -> int:
        return c.box_list([c.option_val(0 if value is None else box_payload(value))
                           for value in values])

    def unexpected(value: Any) -> int:
        raise TypeError(f"unexpected answer {value!r}")

    writers: dict[Answer, Callable[[int, Any], None]] = {
        Answer.NOTHING: lambda _results, _value: None,
        Answer.UNIT: none_or(unexpected),
        Answer.ID: ok_or_error(c.box_u32),
        Answer.FLAG: ok_or_error(c.box_bool),
        Answer.COUNT: ok_or_error(c.box_s64),
        Answer.PAYLOAD: payload,
        Answer.PAGE: ok_or_error(page),
        Answer.PAYLOADS: ok_or_error(payloads),
        Answer.SWAP: none_or(lambda cas_id: c.box_variant("cas-failed", c.box_u32(cas_id))),
    }
    return writers[answer]


def _plain(method: Callable[..., Any], signature: Signature, table: WireTable,
           label: str) -> RawFunc:
    read = [_arg_reader(param, table) for param in signature.params]
    write = _answer_writer(signature.answer, table)
    size = c.VAL_SIZE
    body: Callable[[int, int, int], None]
    if len(read) == 1:  # one body per arity: a generic loop costs a call as much again
        def body(_context: int, args: int, results: int) -> None:
            write(results, method(read[0](args)))
    elif len(read) == 2:
        def body(_context: int, args: int, results: int) -> None:
            write(results, method(read[0](args), read[1](args + size)))
    else:
        first, second, third = read  # no resource-free function takes more

        def body(_context: int, args: int, results: int) -> None:
            write(results, method(first(args), second(args + size), third(args + 2 * size)))

    return _guarded(label, body)


def register(instance: Any, table: WireTable, server: Any) -> None:
    """Define `table`'s functions in `instance` (a `LinkerInstance`), served by `server` (the
    `GuestSession`, or the object that serves a table of `Signature` functions)."""
    for function in table.functions:
        label = f"{table.interface}#{function.name}"
        method = getattr(server, function.method)
        if isinstance(function.shape, Signature):
            callback = _plain(method, function.shape, table, label)
        else:
            callback = _FACTORIES[function.shape](method, table, label)
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
