"""The vocabulary of wire tables: payload and error forms, function shapes, and the table."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..errors import CacheError
from . import WireError

#: Every interface private to wasmcache's adapters lives in this package; a guest that imports
#: one itself is refused at load (`wasmcache.compose.nest.refuse_private_imports`).
PRIVATE_PACKAGE = "wasmcache:fastpath/"

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


class ErrorForm(enum.Enum):
    """How a `CacheError` crosses back to the guest."""

    ENUM = "the WIT error enum"
    INDEX = "u8: the case's index"


class Shape(enum.Enum):
    """A host function's signature, with `payload` and `error` in the table's forms."""

    SET = "func(key: string, value: payload, ttl: option<u32>) -> result<_, error>"
    GET = "func(key: string) -> result<payload, error>"
    DELETE = "func(key: string) -> result<_, error>"


@dataclass(frozen=True)
class HostFunction:
    """One function of an interface: its WIT name, its shape, the session method serving it."""

    name: str
    shape: Shape
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


def latin1_payload(text: str) -> bytes:
    """The bytes a Latin-1 payload string carries (a `WireError` for anything else)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise WireError("a payload of this private interface must be a Latin-1 string, one "
                        "character per byte; only wasmcache's adapter may call it") from None
