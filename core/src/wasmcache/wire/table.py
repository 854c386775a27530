"""The vocabulary of wire tables: payload and error forms, function shapes, and the table."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import CacheError
from . import WireError

#: The cache interface's error cases in WIT order (their index is the private wire's code).
ERROR_CASES = tuple(case.value for case in CacheError)
ERROR_INDEX = {case: index for index, case in enumerate(CacheError)}


class PayloadForm(enum.Enum):
    """How a payload (``list<u8>`` to the guest) crosses into the host."""

    #: as ``list<u8>``: what the interface says (each byte one C value)
    LIST_U8 = "list<u8>"
    #: as a ``string`` of one Latin-1 character per byte, which the adapter's canonical-ABI
    #: options make Wasmtime copy in bulk
    LATIN1 = "string"


class TextForm(enum.Enum):
    """How keys, names, cursors and error messages cross."""

    #: as ``string``s (Wasmtime transcodes them between the two sides' encodings)
    PLAIN = "string"
    #: as ``string``s of one Latin-1 character per byte of their UTF-8: an adapter that lifts
    #: with ``string-encoding=utf8`` and lowers with ``latin1+utf16`` then copies every string
    #: as it is, so Wasmtime never transcodes into the guest's memory (whose allocator may not
    #: grow a block: componentize-py's traps on it)
    UTF8_AS_LATIN1 = "string: UTF-8 as Latin-1"


class ErrorForm(enum.Enum):
    """How an error crosses back to the guest."""

    ENUM = "the WIT error enum"
    INDEX = "u8: the case's index"
    #: a `KvError` as the private keyvalue interface's variant (`wasmcache.wire.keyvalue`)
    VARIANT = "wasi:keyvalue's error variant, plus none and cas-failed(u32)"


class Shape(enum.Enum):
    """A host function's signature, with `payload` and `error` in the table's forms."""

    SET = "func(key: string, value: payload, ttl: option<u32>) -> result<_, error>"
    GET = "func(key: string) -> result<payload, error>"
    DELETE = "func(key: string) -> result<_, error>"


class Param(enum.Enum):
    """A parameter of a resource-free function (`Signature`), as it crosses the wire."""

    ID = "u32: a bucket's or a cas's id"
    NAME = "string: a bucket's name"
    KEY = "string"
    PAYLOAD = "payload"
    DELTA = "s64"
    CURSOR = "option<string>"
    KEYS = "list<string>"
    ITEMS = "list<tuple<string, payload>>"


class Answer(enum.Enum):
    """The result of a resource-free function (`Signature`), errors in the table's form.

    The method serving it returns the ok value, a `wasmcache.keyvalue.KvError`, or as said."""

    NOTHING = "no result (the method returns None)"
    UNIT = "result<_, error>: None is ok"
    ID = "result<u32, error>"
    FLAG = "result<bool, error>"
    COUNT = "result<s64, error>"
    #: None (the key is absent) crosses as the error case `none`: wasmtime-py 50's public API
    #: cannot lower an error of result<option<...>, error>
    PAYLOAD = "result<payload, error>"
    PAGE = "result<tuple<list<string>, option<string>>, error>: (keys, cursor)"
    PAYLOADS = "result<list<option<payload>>, error>"
    #: an int (a fresh cas's id) crosses as the error case `cas-failed(u32)`
    SWAP = "result<_, error>: None is ok"


@dataclass(frozen=True)
class Signature:
    """A resource-free function's parameters and answer: registered generically per style."""

    params: tuple[Param, ...]
    answer: Answer


@dataclass(frozen=True)
class HostFunction:
    """One function of an interface: its WIT name, its shape, the method serving it (of the
    `GuestSession`, or of the object the table is registered with)."""

    name: str
    shape: Shape | Signature
    method: str


@dataclass(frozen=True)
class WireTable:
    """An interface as it crosses the boundary."""

    interface: str
    payload: PayloadForm
    error: ErrorForm
    functions: tuple[HostFunction, ...]
    #: only wasmcache's own adapter may import it: a guest importing it is refused at load
    private: bool = False
    text: TextForm = TextForm.PLAIN


def latin1_payload(text: str) -> bytes:
    """The bytes a Latin-1 payload string carries (a `WireError` for anything else)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise WireError("a payload of this private interface must be a Latin-1 string, one "
                        "character per byte; only wasmcache's adapter may call it") from None


def text_in(text: str) -> str:
    """A key, name or cursor of a `TextForm.UTF8_AS_LATIN1` table (a `WireError` when it
    cannot be one)."""
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise WireError("a key, name or cursor of this private interface must be UTF-8 carried "
                        "as Latin-1, one character per byte; only wasmcache's adapter may call "
                        "it") from None


def text_out(text: str) -> str:
    """`text` (a key, cursor or message) as a `TextForm.UTF8_AS_LATIN1` table sends it."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")
