"""The keyvalue adapter: serves wasi:keyvalue store, atomics and batch to a guest over the
private, resource-free interface `wasmcache.wire.keyvalue.KEYVALUE`.

The adapter defines the ``bucket`` and ``cas`` resource types itself (a handle's rep is the
host's u32 id: a bucket's index in the session, a cas's entry in the host's table) and exports
the three interfaces with them, so the guest's handles live in the adapter's table and the host
sees plain values only. Payloads cross as Latin-1 strings (the host functions are lowered with
``string-encoding=latin1+utf16``, as in the cache adapter, `wasmcache.compose.adapter`), so
Wasmtime copies them in bulk, batches included: ``list<tuple<string, list<u8>>>`` and
``list<tuple<string, string>>`` have the same memory layout, so a `set-many`'s items are
forwarded as they are. The exports are lifted with ``utf8`` (see `_LIFT_OPTS`).

Most functions forward pointers and the return area unchanged, because the private result has
the public one's layout. Five convert it:

* ``open`` / ``cas.new``: an ok id becomes a new handle (``resource.new``);
* ``bucket.get`` / ``cas.current``: the private ``result<string, error>`` with ``none`` as an
  error case (wasmtime-py 50's public API cannot lower an error of
  ``result<option<...>, error>``) becomes ``result<option<list<u8>>, error>``;
* ``swap``: the own handle is consumed (its destructor skips the host: the host's swap consumes
  the cas), and ``cas-failed(id)`` becomes ``cas-error.cas-failed`` with a new handle;
* ``get-many``: the host answers the values only; the adapter pairs them with the guest's keys.

A cas's destructor calls the host's ``drop-cas``; a bucket needs none (its id names one of the
session's buckets). `keyvalue_mirror_guest_wat` is the inverse: a tiny guest that imports the
real interfaces and exports them with u32 handles and string payloads, for tests.
"""

from __future__ import annotations

from ..wire.keyvalue import CAS_FAILED, KEYVALUE_INTERFACE, NONE, PRIVATE_ERROR_CASES
from .adapter import allocator_wat

# The public result is built at RET, a private one that needs converting is read at PRIV;
# the allocator hands out memory from BASE up.
RET, PRIV, BASE = 0, 32, 64

# The adapter lowers the host's functions with latin1+utf16 (a payload is copied in bulk, one
# byte per character) and lifts its exports with utf8, so a string is never transcoded: keys,
# names, cursors and messages cross the private interface as their UTF-8 bytes carried as
# Latin-1 (`wasmcache.wire.table.TextForm.UTF8_AS_LATIN1`). Transcoding into the guest would
# call its realloc to grow a block, which componentize-py's refuses (a trap).
_OPTS = "(memory $mem) (realloc $realloc) string-encoding=latin1+utf16"
_LIFT_OPTS = "(memory $mem) (realloc $realloc) string-encoding=utf8"
_STORE_ERROR = '(variant (case "no-such-store") (case "access-denied") (case "other" string))'
_PRIVATE_ERROR = "(variant " + " ".join(
    f'(case "{case}" {payload})' if payload else f'(case "{case}")'
    for case, payload in PRIVATE_ERROR_CASES) + ")"


# The private interface's functions (`wasmcache.wire.keyvalue.FUNCTIONS`), {error} its variant.
_PRIVATE = {
    "open": '(param "name" string) (result (result u32 (error {error})))',
    "get": '(param "bucket" u32) (param "key" string) (result (result string (error {error})))',
    "set": '(param "bucket" u32) (param "key" string) (param "value" string) '
           "(result (result (error {error})))",
    "delete": '(param "bucket" u32) (param "key" string) (result (result (error {error})))',
    "exists": '(param "bucket" u32) (param "key" string) (result (result bool (error {error})))',
    "list-keys": '(param "bucket" u32) (param "cursor" (option string)) '
                 "(result (result (tuple (list string) (option string)) (error {error})))",
    "cas-new": '(param "bucket" u32) (param "key" string) (result (result u32 (error {error})))',
    "cas-current": '(param "cas" u32) (result (result string (error {error})))',
    "drop-cas": '(param "cas" u32)',
    "increment": '(param "bucket" u32) (param "key" string) (param "delta" s64) '
                 "(result (result s64 (error {error})))",
    "swap": '(param "cas" u32) (param "value" string) (result (result (error {error})))',
    "get-many": '(param "bucket" u32) (param "keys" (list string)) '
                "(result (result (list (option string)) (error {error})))",
    "set-many": '(param "bucket" u32) (param "items" (list (tuple string string))) '
                "(result (result (error {error})))",
    "delete-many": '(param "bucket" u32) (param "keys" (list string)) '
                   "(result (result (error {error})))",
}


def _private_decls() -> str:
    """The private interface's instance type body (`wasmcache.wire.keyvalue.KEYVALUE`)."""
    functions = "\n    ".join(f'(export "{name}" (func {_typed(functype, "")}))'
                              for name, functype in _PRIVATE.items())
    return f"""
    (type $error' {_PRIVATE_ERROR})
    (export "error" (type $error (eq $error')))
    {functions}"""


def keyvalue_private_type_wat() -> str:
    """The private interface's instance type, as a one-entry component (for its encoding)."""
    return f"(component (type (instance {_private_decls()})))"


# name of the host function -> the flat core parameters of the adapter's lifted export (the
# lowered import takes the same plus its return area). These forward unchanged.
_FORWARDED = {
    "set": "i32 i32 i32 i32 i32", "delete": "i32 i32 i32", "exists": "i32 i32 i32",
    "list-keys": "i32 i32 i32 i32", "increment": "i32 i32 i32 i64",
    "set-many": "i32 i32 i32", "delete-many": "i32 i32 i32",
}
# ... and the ones the adapter converts (the lowered import's full core parameters)
_CONVERTED = {
    "open": "i32 i32 i32", "get": "i32 i32 i32 i32", "cas-new": "i32 i32 i32 i32",
    "cas-current": "i32 i32", "swap": "i32 i32 i32 i32", "get-many": "i32 i32 i32 i32",
}


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def _snake(name: str) -> str:
    return name.replace("-", "_")


def _params(flat: str) -> str:
    return " ".join(f"(param {kind})" for kind in flat.split())


def _forward(name: str, flat: str, ret: int) -> str:
    """A core function: call the import `name` with the same arguments and return area `ret`."""
    args = " ".join(f"(local.get {index})" for index in range(len(flat.split())))
    return (f'    (func (export "{name}") {_params(flat)} (result i32)\n'
            f"      (call $host_{_snake(name)} {args} (i32.const {ret}))\n"
            f"      (i32.const {ret}))\n")


_ADAPTER_CORE = """
    ;; private result<string, error> at PRIV -> result<option<list<u8>>, error> at RET
    (func $payload_or_none (result i32)
      (if (i32.eqz (i32.load8_u (i32.const PRIV)))
        (then
          ;; a length with bit 31 set is UTF-16: the host sent a character above U+00FF
          (if (i32.lt_s (i32.load (i32.const PRIV+8)) (i32.const 0)) (then unreachable))
          (i32.store8 (i32.const RET) (i32.const 0))
          (i32.store8 (i32.const RET+4) (i32.const 1))
          (i64.store (i32.const RET+8) (i64.load (i32.const PRIV+4))))
        (else
          (i32.store8 (i32.const RET) (i32.const 1))
          (memory.copy (i32.const RET+4) (i32.const PRIV+4) (i32.const 12))
          (if (i32.eq (i32.load8_u (i32.const PRIV+4)) (i32.const NONE))
            (then (i32.store8 (i32.const RET) (i32.const 0))
                  (i32.store8 (i32.const RET+4) (i32.const 0))))))
      (i32.const RET))
    (func (export "open") (param i32 i32) (result i32)
      (call $host_open (local.get 0) (local.get 1) (i32.const RET))
      (if (i32.eqz (i32.load8_u (i32.const RET)))  ;; an ok id becomes a new handle
        (then (i32.store (i32.const RET+4) (call $bucket_new (i32.load (i32.const RET+4))))))
      (i32.const RET))
    (func (export "cas-new") (param i32 i32 i32) (result i32)
      (call $host_cas_new (local.get 0) (local.get 1) (local.get 2) (i32.const RET))
      (if (i32.eqz (i32.load8_u (i32.const RET)))
        (then (i32.store (i32.const RET+4) (call $cas_new (i32.load (i32.const RET+4))))))
      (i32.const RET))
    (func (export "get") (param i32 i32 i32) (result i32)
      (call $host_get (local.get 0) (local.get 1) (local.get 2) (i32.const PRIV))
      (call $payload_or_none))
    (func (export "cas-current") (param i32) (result i32)
      (call $host_cas_current (local.get 0) (i32.const PRIV))
      (call $payload_or_none))
    (func (export "swap") (param $handle i32) (param i32 i32) (result i32)
      (local $rep i32)
      (local.set $rep (call $cas_rep (local.get $handle)))
      (global.set $consuming (i32.const 1))  ;; the host's swap consumes the cas, not the dtor
      (call $cas_drop (local.get $handle))
      (call $host_swap (local.get $rep) (local.get 1) (local.get 2) (i32.const PRIV))
      (i32.store8 (i32.const RET) (i32.load8_u (i32.const PRIV)))
      (if (i32.load8_u (i32.const PRIV))
        (then
          (if (i32.eq (i32.load8_u (i32.const PRIV+4)) (i32.const CAS_FAILED))
            (then (i32.store8 (i32.const RET+4) (i32.const 1))
                  (i32.store (i32.const RET+8) (call $cas_new (i32.load (i32.const PRIV+8)))))
            (else (i32.store8 (i32.const RET+4) (i32.const 0))
                  (memory.copy (i32.const RET+8) (i32.const PRIV+4) (i32.const 12))))))
      (i32.const RET))
    ;; private list<option<string>> (12-byte elements) + the guest's keys (8 bytes each)
    ;; -> list<option<tuple<string, list<u8>>>> (20-byte elements)
    (func (export "get-many") (param $bucket i32) (param $keys i32) (param $count i32)
                              (result i32)
      (local $from i32) (local $to i32) (local $end i32) (local $key i32) (local $out i32)
      (call $host_get_many (local.get $bucket) (local.get $keys) (local.get $count)
                           (i32.const PRIV))
      (if (i32.load8_u (i32.const PRIV))
        (then (memory.copy (i32.const RET) (i32.const PRIV) (i32.const 16))
              (return (i32.const RET))))
      (if (i32.ne (i32.load (i32.const PRIV+8)) (local.get $count)) (then unreachable))
      (local.set $from (i32.load (i32.const PRIV+4)))
      (local.set $end (i32.add (local.get $from) (i32.mul (local.get $count) (i32.const 12))))
      (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 4)
                                     (i32.mul (local.get $count) (i32.const 20))))
      (local.set $to (local.get $out))
      (local.set $key (local.get $keys))
      (block $done
        (loop $next
          (br_if $done (i32.ge_u (local.get $from) (local.get $end)))
          (i32.store8 (local.get $to) (i32.load8_u (local.get $from)))
          (if (i32.load8_u (local.get $from))
            (then
              (if (i32.lt_s (i32.load offset=8 (local.get $from)) (i32.const 0))
                (then unreachable))
              (i64.store offset=4 (local.get $to) (i64.load (local.get $key)))
              (i64.store offset=12 (local.get $to) (i64.load offset=4 (local.get $from)))))
          (local.set $from (i32.add (local.get $from) (i32.const 12)))
          (local.set $to (i32.add (local.get $to) (i32.const 20)))
          (local.set $key (i32.add (local.get $key) (i32.const 8)))
          (br $next)))
      (i32.store8 (i32.const RET) (i32.const 0))
      (i32.store (i32.const RET+4) (local.get $out))
      (i32.store (i32.const RET+8) (local.get $count))
      (i32.const RET))
"""


def _offsets(text: str) -> str:
    """RET+n / PRIV+n / RET / PRIV / NONE / CAS_FAILED spelled as numbers."""
    for base in ("PRIV", "RET"):
        for offset in (16, 12, 8, 4):
            text = text.replace(f"{base}+{offset}", str(globals()[base] + offset))
        text = text.replace(base, str(globals()[base]))
    return text.replace("CAS_FAILED", str(CAS_FAILED)).replace("NONE", str(NONE))


def _core_imports(names: dict[str, str], return_area: bool) -> str:
    """The forwarder's imports of the lowered host functions (plus their return area)."""
    extra = " i32" if return_area else ""
    return "".join(
        f'    (import "host" "{name}" (func $host_{_snake(name)} '
        f"{_params(flat + extra)}))\n" for name, flat in names.items())


def _host_lowers() -> tuple[str, str]:
    """The lowered host functions, and the instance body exporting them to the forwarder."""
    names = [*_FORWARDED, *_CONVERTED]
    lowers = "".join(f'  (core func $low_{_snake(n)} (canon lower (func $host "{n}") '
                     f"{_OPTS}))\n" for n in names)
    lowers += '  (core func $low_drop_cas (canon lower (func $host "drop-cas")))\n'
    exports = " ".join(f'(export "{n}" (func $low_{_snake(n)}))' for n in names)
    return lowers, exports


def _lift(name: str, core: str, functype: str) -> str:
    return (f'  (func ${name} {functype}\n    (canon lift (core func $fwd "{core}") {_LIFT_OPTS}'
            f" (post-return (core func $reset))))\n")


def _public_functions(bucket: str, cas: str, error: str, cas_error: str,
                      key_response: str) -> list[tuple[str, str, str]]:
    """(lifted name, core export, WIT type) of every function of the three interfaces, with
    payloads as `list<u8>` and the given resource / error / record type references."""
    payload = "(list u8)"
    ok = f"(result (error {error}))"
    return [
        ("open", "open", f'(param "identifier" string) (result (result (own {bucket}) '
                         f"(error {error})))"),
        ("get", "get", f'(param "self" (borrow {bucket})) (param "key" string) '
                       f"(result (result (option {payload}) (error {error})))"),
        ("set", "set", f'(param "self" (borrow {bucket})) (param "key" string) '
                       f'(param "value" {payload}) (result {ok})'),
        ("delete", "delete", f'(param "self" (borrow {bucket})) (param "key" string) '
                             f"(result {ok})"),
        ("exists", "exists", f'(param "self" (borrow {bucket})) (param "key" string) '
                             f"(result (result bool (error {error})))"),
        ("list_keys", "list-keys", f'(param "self" (borrow {bucket})) '
                                   f'(param "cursor" (option string)) '
                                   f"(result (result {key_response} (error {error})))"),
        ("cas_new", "cas-new", f'(param "bucket" (borrow {bucket})) (param "key" string) '
                               f"(result (result (own {cas}) (error {error})))"),
        ("cas_current", "cas-current", f'(param "self" (borrow {cas})) '
                                       f"(result (result (option {payload}) "
                                       f"(error {error})))"),
        ("increment", "increment", f'(param "bucket" (borrow {bucket})) (param "key" string) '
                                   f'(param "delta" s64) (result (result s64 (error {error})))'),
        ("swap", "swap", f'(param "cas" (own {cas})) (param "value" {payload}) '
                         f"(result (result (error {cas_error})))"),
        ("get_many", "get-many", f'(param "bucket" (borrow {bucket})) '
                                 f'(param "keys" (list string)) (result (result '
                                 f"(list (option (tuple string {payload}))) (error {error})))"),
        ("set_many", "set-many", f'(param "bucket" (borrow {bucket})) '
                                 f'(param "key-values" (list (tuple string {payload}))) '
                                 f"(result {ok})"),
        ("delete_many", "delete-many", f'(param "bucket" (borrow {bucket})) '
                                       f'(param "keys" (list string)) (result {ok})'),
    ]


# Which instance exports each function, under which name.
_EXPORTS = {
    "store": [("open", "open"), ("get", "[method]bucket.get"), ("set", "[method]bucket.set"),
              ("delete", "[method]bucket.delete"), ("exists", "[method]bucket.exists"),
              ("list_keys", "[method]bucket.list-keys")],
    "atomics": [("cas_new", "[static]cas.new"), ("cas_current", "[method]cas.current"),
                ("increment", "increment"), ("swap", "swap")],
    "batch": [("get_many", "get-many"), ("set_many", "set-many"),
              ("delete_many", "delete-many")],
}
# The types each interface exports, in order: (name, definition or None for a resource).
_TYPES = {
    "store": [("bucket", None), ("error", _STORE_ERROR),
              ("key-response", '(record (field "keys" (list string)) '
                               '(field "cursor" (option string)))')],
    "atomics": [("cas", None), ("bucket", None), ("error", _STORE_ERROR),
                ("cas-error", '(variant (case "store-error" {error}) '
                              '(case "cas-failed" (own {cas})))')],
    "batch": [("bucket", None), ("error", _STORE_ERROR)],
}


def _typed(template: str, prefix: str) -> str:
    """`template` with each "{type-name}" replaced by "$<prefix><type-name>"."""
    for name in ("bucket", "cas-error", "cas", "error", "key-response"):
        template = template.replace("{" + name + "}", f"${prefix}{name}")
    return template


def _shim(name: str, types: list[tuple[str, str | None]],
          functions: list[tuple[str, str, str]]) -> str:
    """A component that imports `types` (name, definition template or None for a resource) and
    `functions` (import name, export name, type template) and exports them under their export
    names, with types ascribed in terms of its own exports: what wit-component generates for an
    exported interface (a bag of exports can neither name the resources of `[method]`
    functions nor be re-exported by the wrapper when its types refer to one another)."""
    lines = []
    for type_name, definition in types:
        if definition is None:
            lines.append(f'(import "{type_name}" (type $i{type_name} (sub resource)))')
        else:
            lines.append(f"(type $d{type_name} {_typed(definition, 'i')})")
            lines.append(f'(import "{type_name}" (type $i{type_name} (eq $d{type_name})))')
    for index, (imported, _, functype) in enumerate(functions):
        lines.append(f'(import "{imported}" (func $f{index} {_typed(functype, "i")}))')
    for type_name, definition in types:
        if definition is None:
            lines.append(f'(export $e{type_name} "{type_name}" (type $i{type_name}))')
        else:
            lines.append(f"(type $x{type_name} {_typed(definition, 'e')})")
            lines.append(f'(export $e{type_name} "{type_name}" (type $i{type_name}) '
                         f"(type (eq $x{type_name})))")
    for index, (_, exported, functype) in enumerate(functions):
        lines.append(f'(export "{exported}" (func $f{index}) (func {_typed(functype, "e")}))')
    body = "\n    ".join(lines)
    return f"  (component ${name}\n    {body})\n"


def _instances(types: dict[str, str]) -> str:
    """The three interfaces as instances of their shims, exported; `types` maps a type's name
    to its index in the adapter."""
    templates = {name: functype for name, _, functype in _public_functions(
        "{bucket}", "{cas}", "{error}", "{cas-error}", "{key-response}")}
    out = []
    for interface, functions in _EXPORTS.items():
        args = [f'(with "{name}" (type {types[name]}))' for name, _ in _TYPES[interface]]
        args += [f'(with "f-{_kebab(name)}" (func ${name}))' for name, _ in functions]
        out.append(_shim(f"{interface}_shim", _TYPES[interface],
                         [(f"f-{_kebab(name)}", export, templates[name])
                          for name, export in functions]))
        out.append(f"  (instance ${interface} (instantiate ${interface}_shim {' '.join(args)}))\n"
                   f'  (export "{interface}" (instance ${interface}))\n')
    return "".join(out)


def keyvalue_adapter_wat() -> str:
    """A component importing ``host`` (the private interface) and exporting ``store``,
    ``atomics`` and ``batch`` (wasi:keyvalue@0.2.0-draft2) with its own resource types."""
    lowers, host_exports = _host_lowers()
    forwarders = "".join(_forward(name, flat, RET) for name, flat in _FORWARDED.items())
    imports = _core_imports(_FORWARDED, True) + _core_imports(_CONVERTED, False)
    core = f"""
  (core module $Dtor
    (import "host" "drop-cas" (func $drop (param i32)))
    (global $consuming (export "consuming") (mut i32) (i32.const 0))
    (func (export "cas") (param $rep i32)
      (if (global.get $consuming)
        (then (global.set $consuming (i32.const 0)))
        (else (call $drop (local.get $rep))))))
  (core instance $dtor (instantiate $Dtor
    (with "host" (instance (export "drop-cas" (func $low_drop_cas))))))
  (alias core export $dtor "cas" (core func $cas_dtor))
  (alias core export $dtor "consuming" (core global $consuming))
  (type $bucket' (resource (rep i32)))
  (type $cas' (resource (rep i32) (dtor (core func $cas_dtor))))
  (core func $bucket_new (canon resource.new $bucket'))
  (core func $cas_new (canon resource.new $cas'))
  (core func $cas_rep (canon resource.rep $cas'))
  (core func $cas_drop (canon resource.drop $cas'))
  (core module $Forward
    (import "a" "memory" (memory 0))
    (import "a" "realloc" (func $realloc (param i32 i32 i32 i32) (result i32)))
    (import "r" "bucket-new" (func $bucket_new (param i32) (result i32)))
    (import "r" "cas-new" (func $cas_new (param i32) (result i32)))
    (import "r" "cas-rep" (func $cas_rep (param i32) (result i32)))
    (import "r" "cas-drop" (func $cas_drop (param i32)))
    (import "r" "consuming" (global $consuming (mut i32)))
{imports}{forwarders}{_offsets(_ADAPTER_CORE)})
  (core instance $fwd (instantiate $Forward
    (with "a" (instance $alloc))
    (with "r" (instance (export "bucket-new" (func $bucket_new)) (export "cas-new" (func $cas_new))
                        (export "cas-rep" (func $cas_rep)) (export "cas-drop" (func $cas_drop))
                        (export "consuming" (global $consuming))))
    (with "host" (instance {host_exports}))))
"""
    types = f"""
  (type $error {_STORE_ERROR})
  (type $key_response (record (field "keys" (list string)) (field "cursor" (option string))))
  (type $cas_error (variant (case "store-error" $error) (case "cas-failed" (own $cas'))))
"""
    lifts = "".join(_lift(name, core_name, functype) for name, core_name, functype in
                    _public_functions("$bucket'", "$cas'", "$error", "$cas_error",
                                      "$key_response"))
    instances = _instances({"bucket": "$bucket'", "cas": "$cas'", "error": "$error",
                            "key-response": "$key_response", "cas-error": "$cas_error"})
    return f"""(component
  (import "host" (instance $host {_private_decls()}))
{allocator_wat(BASE)}{lowers}{core}{types}{lifts}{instances})
"""


# --- mirror guests (tests) ---------------------------------------------------------------

MIRROR_EXPORT = "wasmcache:test/keyvalue-mirror"
PRIVATE_MIRROR_EXPORT = "wasmcache:test/keyvalue-private-mirror"

# Where each wasi:keyvalue function is imported from, by its host function's name
_IMPORTED = {_kebab(name): (interface, export) for interface, functions in _EXPORTS.items()
             for name, export in functions}
# host function's name -> the flat core parameters of a mirror's lifted export
_MIRRORED = {**_FORWARDED, "open": "i32 i32", "get": "i32 i32 i32", "cas-new": "i32 i32 i32",
             "cas-current": "i32", "swap": "i32 i32 i32", "get-many": "i32 i32 i32"}
# The keyvalue mirror's exports: wasi:keyvalue's functions with u32 handles and string payloads
_PLAIN = {
    **{name: _PRIVATE[name] for name in ("open", "set", "delete", "exists", "list-keys",
                                         "cas-new", "increment", "set-many", "delete-many")},
    "get": '(param "bucket" u32) (param "key" string) '
           "(result (result (option string) (error {error})))",
    "cas-current": '(param "cas" u32) (result (result (option string) (error {error})))',
    "swap": '(param "cas" u32) (param "value" string) (result (result (error {cas-error})))',
    "get-many": '(param "bucket" u32) (param "keys" (list string)) '
                "(result (result (list (option (tuple string string))) (error {error})))",
}


def _import_decls(interface: str) -> str:
    """The instance type of one of wasi:keyvalue's interfaces, as a guest imports it."""
    functions = {name: functype for name, _, functype in _public_functions(
        "$ibucket", "$icas", "$ierror", "$icas-error", "$ikey-response")}
    lines = []
    for name, definition in _TYPES[interface]:
        if definition is None:
            shared = interface != "store" and name == "bucket"
            lines.append(f'(export "{name}" (type $i{name} '
                         f'{"(eq $bucket)" if shared else "(sub resource)"}))')
        else:
            definition = definition.replace("{error}", "$ierror").replace("{cas}", "$icas")
            lines.append(f"(type $d{name} {definition})")
            lines.append(f'(export "{name}" (type $i{name} (eq $d{name})))')
    lines += [f'(export "{export}" (func {functions[name]}))'
              for name, export in _EXPORTS[interface]]
    return "\n      ".join(lines)


def _mirror(imports: str, lowered: dict[str, str], exports: dict[str, str],
            types: list[tuple[str, str | None]], builtins: str, export: str) -> str:
    """A guest that imports `imports` and exports, as the instance `export`, a function per
    entry of `exports` (name -> type template) with `types` named. Each forwards to its
    `lowered` core function (name -> canon lower target) with the same arguments and a return
    area at 0, or is a core function of `builtins` (no result) when it is not lowered."""
    lowers = "".join(f"  (core func $low_{_snake(name)} (canon lower {target} {_OPTS}))\n"
                     for name, target in lowered.items())
    core_imports = "".join(
        f'    (import "host" "{name}" (func $host_{_snake(name)} '
        f"{_params(_MIRRORED[name] + ' i32')}))\n" for name in lowered)
    forwarders = "".join(_forward(name, _MIRRORED[name], 0) for name in lowered)
    host = " ".join(f'(export "{name}" (func $low_{_snake(name)}))' for name in lowered)
    lifts = "".join(
        f"  (func $x_{_snake(name)} {_typed(functype, '')}\n"
        + (f'    (canon lift (core func $fwd "{name}") {_OPTS} (post-return (core func $reset))))\n'
           if name in lowered else f"    (canon lift (core func $builtin_{_snake(name)})))\n")
        for name, functype in exports.items())
    definitions = "".join(f"  (type ${name} {_typed(definition or '', '')})\n"
                          for name, definition in types)
    args = " ".join([f'(with "{name}" (type ${name}))' for name, _ in types]
                    + [f'(with "{name}" (func $x_{_snake(name)}))' for name in exports])
    return f"""(component
{imports}
{allocator_wat(BASE)}{lowers}{builtins}
  (core module $Forward
    (import "a" "memory" (memory 0))
{core_imports}{forwarders})
  (core instance $fwd (instantiate $Forward
    (with "a" (instance $alloc))
    (with "host" (instance {host}))))
{definitions}{lifts}{_shim("mirror_shim", types, [(n, n, t) for n, t in exports.items()])}\
  (instance $mirror (instantiate $mirror_shim {args}))
  (export "{export}" (instance $mirror)))
"""


def keyvalue_mirror_guest_wat() -> str:
    """A guest that imports wasi:keyvalue store, atomics and batch and exports, as the instance
    `MIRROR_EXPORT`, every function with handles as u32 (its own handle indices) and payloads
    as Latin-1 strings, plus ``drop-bucket`` / ``drop-cas``: tests drive any host path with it
    cheaply, wrapped or not. Each export has its import's memory layout, so the core code only
    forwards."""
    imports = []
    for interface in _EXPORTS:
        imports.append(f'  (import "wasi:keyvalue/{interface}@0.2.0-draft2" (instance '
                       f"${interface}\n      {_import_decls(interface)}))")
        if interface == "store":
            imports.append('  (alias export $store "bucket" (type $bucket))')
        if interface == "atomics":
            imports.append('  (alias export $atomics "cas" (type $cas))')
    lowered = {name: f'(func ${interface} "{export}")'
               for name, (interface, export) in _IMPORTED.items()}
    exports = {**_PLAIN, "drop-bucket": '(param "bucket" u32)', "drop-cas": '(param "cas" u32)'}
    builtins = ("  (core func $builtin_drop_bucket (canon resource.drop $bucket))\n"
                "  (core func $builtin_drop_cas (canon resource.drop $cas))\n")
    types: list[tuple[str, str | None]] = [
        ("error", _STORE_ERROR),
        ("cas-error", '(variant (case "store-error" {error}) (case "cas-failed" u32))')]
    return _mirror("\n".join(imports), lowered, exports, types, builtins, MIRROR_EXPORT)


def keyvalue_private_mirror_wat() -> str:
    """A guest that imports the private interface itself (so a host refuses it at load, unless
    linked by hand) and exports it as it is, as the instance `PRIVATE_MIRROR_EXPORT`: tests
    send the private functions anything the wire can carry, in both registration styles."""
    imports = f'  (import "{KEYVALUE_INTERFACE}" (instance $host {_private_decls()}))'
    lowered = {name: f'(func $host "{name}")' for name in _PRIVATE if name != "drop-cas"}
    builtins = ('  (core func $builtin_drop_cas (canon lower (func $host "drop-cas")))\n')
    return _mirror(imports, lowered, dict(_PRIVATE), [("error", _PRIVATE_ERROR)], builtins,
                   PRIVATE_MIRROR_EXPORT)
