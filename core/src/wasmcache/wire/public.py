"""Register a wire table through wasmtime-py's public ``add_func``: the twin of `capi`.

The same table, the same session methods, the same answers; wasmtime-py converts arguments and
results itself. A `WireError` is raised as a `WasmtimeError`, which wasmtime-py turns into a
trap with that line (not a relayed Python exception).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmtime import WasmtimeError
from wasmtime.component import LinkerInstance, Variant

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

UserFunc = Callable[..., Any]


def _payload_in(form: PayloadForm) -> Callable[[Any], bytes]:
    return bytes if form is PayloadForm.LIST_U8 else latin1_payload


def _payload_out(form: PayloadForm) -> Callable[[bytes], Any]:
    if form is PayloadForm.LIST_U8:
        return bytes
    return lambda value: value.decode("latin-1")


def _text(form: TextForm) -> tuple[Callable[[str], str], Callable[[str], str]]:
    """(in, out) conversions of keys, names, cursors and messages for a table of `form`."""
    if form is TextForm.PLAIN:
        return str, str
    return text_in, text_out


def _error_out(form: ErrorForm, text: TextForm = TextForm.PLAIN) -> Callable[[Any], Any]:
    if form is ErrorForm.ENUM:
        return lambda error: error.value
    if form is ErrorForm.VARIANT:
        out = _text(text)[1]
        return lambda error: (Variant(error.case) if error.message is None
                              else Variant(error.case, out(error.message)))
    return ERROR_INDEX.__getitem__


def _guarded(label: str, func: UserFunc) -> UserFunc:
    def guarded(store: Any, *args: Any) -> Any:
        try:
            return func(*args)
        except WireError as exc:
            raise WasmtimeError(f"{label}: {exc}") from None

    return guarded


def _set(method: Callable[..., CacheError | None], table: WireTable) -> UserFunc:
    payload_in, error_out = _payload_in(table.payload), _error_out(table.error)

    def set_(key: str, value: Any, ttl: int | None) -> Any:
        error = method(key, payload_in(value), ttl)
        return None if error is None else error_out(error)

    return set_


def _get(method: Callable[..., bytes | CacheError], table: WireTable) -> UserFunc:
    payload_out, error_out = _payload_out(table.payload), _error_out(table.error)

    def get(key: str) -> Any:
        value = method(key)
        return payload_out(value) if value.__class__ is bytes else error_out(value)  # type: ignore

    return get


def _delete(method: Callable[..., CacheError | None], table: WireTable) -> UserFunc:
    error_out = _error_out(table.error)

    def delete(key: str) -> Any:
        error = method(key)
        return None if error is None else error_out(error)

    return delete


_FACTORIES = {Shape.SET: _set, Shape.GET: _get, Shape.DELETE: _delete}


# --- resource-free functions (`Signature`): one converter per parameter and per answer -----

def _arg_in(param: Param, table: WireTable) -> Callable[[Any], Any]:
    payload_in, text = _payload_in(table.payload), _text(table.text)[0]
    if param is Param.PAYLOAD:
        return payload_in
    if param is Param.ITEMS:
        return lambda items: [(text(key), payload_in(value)) for key, value in items]
    if param is Param.KEYS:
        return lambda keys: [text(key) for key in keys]
    if param is Param.CURSOR:
        return lambda cursor: None if cursor is None else text(cursor)
    if param in (Param.NAME, Param.KEY):
        return text
    return int  # ID, DELTA


def _answer_out(answer: Answer, table: WireTable) -> Callable[[Any], Any]:
    error_out, payload_out = _error_out(table.error, table.text), _payload_out(table.payload)
    text = _text(table.text)[1]

    def ok_or_error(ok: Callable[[Any], Any]) -> Callable[[Any], Any]:
        return lambda value: error_out(value) if value.__class__ is KvError else ok(value)

    def same(value: Any) -> Any:
        return value

    def payload(value: Any) -> Any:
        if value.__class__ is bytes:
            return payload_out(value)
        return Variant("none") if value is None else error_out(value)

    def page(value: tuple[list[str], str | None]) -> tuple[list[str], str | None]:
        keys, cursor = value
        return [text(key) for key in keys], None if cursor is None else text(cursor)

    def swap(value: Any) -> Any:
        if value is None or value.__class__ is KvError:
            return value and error_out(value)
        return Variant("cas-failed", value)

    outs: dict[Answer, Callable[[Any], Any]] = {
        Answer.NOTHING: same,
        Answer.UNIT: lambda value: value and error_out(value),
        Answer.ID: ok_or_error(same),
        Answer.FLAG: ok_or_error(same),
        Answer.COUNT: ok_or_error(same),
        Answer.PAYLOAD: payload,
        Answer.PAGE: ok_or_error(page),
        Answer.PAYLOADS: ok_or_error(lambda values: [None if value is None
                                                     else payload_out(value)
                                                     for value in values]),
        Answer.SWAP: swap,
    }
    return outs[answer]


def _plain(method: Callable[..., Any], signature: Signature, table: WireTable) -> UserFunc:
    ins = [_arg_in(param, table) for param in signature.params]
    out = _answer_out(signature.answer, table)

    def call(*args: Any) -> Any:
        return out(method(*[convert(arg) for convert, arg in zip(ins, args, strict=True)]))

    return call


def register(instance: LinkerInstance, table: WireTable, server: Any) -> None:
    """Define `table`'s functions in `instance` with ``add_func``, served by `server` (the
    `GuestSession`, or the object that serves a table of `Signature` functions)."""
    for function in table.functions:
        label = f"{table.interface}#{function.name}"
        method = getattr(server, function.method)
        if isinstance(function.shape, Signature):
            func = _plain(method, function.shape, table)
        else:
            func = _FACTORIES[function.shape](method, table)
        instance.add_func(function.name, _guarded(label, func))
