"""The private keyvalue interface: wasi:keyvalue store, atomics and batch without resources.

The keyvalue adapter (`wasmcache.compose.keyvalue`) exports the three interfaces to the guest
with resource types of its own and imports `KEYVALUE_INTERFACE`, whose functions take and return
plain values: u32 ids for buckets and cas handles, and strings of bytes, one Latin-1 character
per byte: payloads (copied in bulk by Wasmtime), and keys, names, cursors and messages as their
UTF-8 (`TextForm.UTF8_AS_LATIN1`: no string is transcoded into the guest); errors are one
variant. `wasmcache.keyvalue.plain.PlainKeyValue`
serves it, over the same `GuestSession` as every other call.
"""

from __future__ import annotations

from .names import PRIVATE_PACKAGE
from .table import (
    Answer,
    ErrorForm,
    HostFunction,
    Param,
    PayloadForm,
    Signature,
    TextForm,
    WireTable,
)

KEYVALUE_INTERFACE = f"{PRIVATE_PACKAGE}keyvalue@0.1.0"

#: The private error variant's cases and payloads, in order: wasi:keyvalue's three, then
#: `none` (a get or cas.current found no value) and `cas-failed` (a swap lost; the fresh cas).
PRIVATE_ERROR_CASES = (("no-such-store", None), ("access-denied", None), ("other", "string"),
                       ("none", None), ("cas-failed", "u32"))
NONE = 3
CAS_FAILED = 4

_ID_KEY = (Param.ID, Param.KEY)

FUNCTIONS = (
    HostFunction("open", Signature((Param.NAME,), Answer.ID), "open"),
    HostFunction("get", Signature(_ID_KEY, Answer.PAYLOAD), "get"),
    HostFunction("set", Signature((*_ID_KEY, Param.PAYLOAD), Answer.UNIT), "set"),
    HostFunction("delete", Signature(_ID_KEY, Answer.UNIT), "delete"),
    HostFunction("exists", Signature(_ID_KEY, Answer.FLAG), "exists"),
    HostFunction("list-keys", Signature((Param.ID, Param.CURSOR), Answer.PAGE), "list_keys"),
    HostFunction("cas-new", Signature(_ID_KEY, Answer.ID), "cas_new"),
    HostFunction("cas-current", Signature((Param.ID,), Answer.PAYLOAD), "cas_current"),
    HostFunction("drop-cas", Signature((Param.ID,), Answer.NOTHING), "drop_cas"),
    HostFunction("increment", Signature((*_ID_KEY, Param.DELTA), Answer.COUNT), "increment"),
    HostFunction("swap", Signature((Param.ID, Param.PAYLOAD), Answer.SWAP), "swap"),
    HostFunction("get-many", Signature((Param.ID, Param.KEYS), Answer.PAYLOADS), "get_many"),
    HostFunction("set-many", Signature((Param.ID, Param.ITEMS), Answer.UNIT), "set_many"),
    HostFunction("delete-many", Signature((Param.ID, Param.KEYS), Answer.UNIT), "delete_many"),
)

KEYVALUE = WireTable(KEYVALUE_INTERFACE, PayloadForm.LATIN1, ErrorForm.VARIANT, FUNCTIONS,
                     private=True, text=TextForm.UTF8_AS_LATIN1)
