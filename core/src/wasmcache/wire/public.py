"""Register a wire table through wasmtime-py's public ``add_func``: the twin of `capi`.

The same table, the same session methods, the same answers; wasmtime-py converts arguments and
results itself. A `WireError` is raised as a `WasmtimeError`, which wasmtime-py turns into a
trap with that line (not a relayed Python exception).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmtime import WasmtimeError
from wasmtime.component import LinkerInstance

from ..errors import CacheError
from ..session import GuestSession
from . import WireError
from .table import ERROR_INDEX, ErrorForm, PayloadForm, Shape, WireTable, latin1_payload

UserFunc = Callable[..., Any]


def _payload_in(form: PayloadForm) -> Callable[[Any], bytes]:
    return bytes if form is PayloadForm.LIST_U8 else latin1_payload


def _payload_out(form: PayloadForm) -> Callable[[bytes], Any]:
    if form is PayloadForm.LIST_U8:
        return bytes
    return lambda value: value.decode("latin-1")


def _error_out(form: ErrorForm) -> Callable[[CacheError], Any]:
    if form is ErrorForm.ENUM:
        return lambda error: error.value
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


def register(instance: LinkerInstance, table: WireTable, session: GuestSession) -> None:
    """Define `table`'s functions in `instance` with ``add_func``, served by `session`."""
    for function in table.functions:
        label = f"{table.interface}#{function.name}"
        func = _FACTORIES[function.shape](getattr(session, function.method), table)
        instance.add_func(function.name, _guarded(label, func))
