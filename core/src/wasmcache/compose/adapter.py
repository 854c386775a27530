"""The adapter component: serves `wasmcache:cache/cache` to a guest over the private payload
interface (`wasmcache.wire.cache.PAYLOAD`).

wasmtime-py converts a ``list<u8>`` one Python int per byte, but hands a ``string`` across as one
contiguous buffer. The adapter exports the cache interface to the guest (payloads as
``list<u8>``) and imports `PAYLOAD_INTERFACE`, whose payloads are ``string``s lowered with
``string-encoding=latin1+utf16``: the canonical ABI then copies the payload bytes as a Latin-1
string, one byte per character, and the adapter's core code only forwards pointers. The host
side converts with ``.decode('latin-1')`` / ``.encode('latin-1')``.

The same forwarding core code, with the two signatures swapped, makes `mirror_guest_wat`: a tiny
guest that exports the string interface and imports the real cache interface, which the tests use
to drive any host path with payloads of any size. `floor_adapter_wat` is the adapter with the host
taken out (every call answered in wasm), so the bench can time a guest's own loop-plus-bindings
floor through exactly the same lifts.
"""

from __future__ import annotations

from ..wire.names import CACHE_INTERFACE
from ..wire.table import ERROR_CASES

INTERNAL = ERROR_CASES.index("internal")

_ENUM = "(enum " + " ".join(f'"{case}"' for case in ERROR_CASES) + ")"

# Memory, a bump allocator (2-aligned at least, as latin1+utf16 requires) and its reset, which
# runs as post-return once the lifted results have been copied out. The first BASE bytes are the
# return areas (the cache's fit in 16; `allocator_wat` reserves more for other adapters).
_ALLOCATOR_TEMPLATE = """
  (core module $Alloc
    (memory (export "memory") 1)
    (global $top (mut i32) (i32.const BASE))
    (func $grow (export "grow") (param $end i32)  ;; memory reaches at least $end bytes
      (local $have i32)
      (local.set $have (i32.shl (memory.size) (i32.const 16)))
      (if (i32.gt_u (local.get $end) (local.get $have))
        (then
          (if (i32.lt_s
                (memory.grow (i32.shr_u
                  (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                  (i32.const 16)))
                (i32.const 0))
            (then unreachable)))))
    (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32)
                             (param $size i32) (result i32)
      (local $ptr i32) (local $end i32)
      ;; growing or shrinking the newest block: in place
      (if (i32.and (i32.ne (local.get $old) (i32.const 0))
                   (i32.eq (i32.add (local.get $old) (local.get $old_size)) (global.get $top)))
        (then
          (local.set $end (i32.add (local.get $old) (local.get $size)))
          (call $grow (local.get $end))
          (global.set $top (local.get $end))
          (return (local.get $old))))
      (if (i32.lt_u (local.get $align) (i32.const 2)) (then (local.set $align (i32.const 2))))
      (local.set $ptr
        (i32.and (i32.add (global.get $top) (i32.sub (local.get $align) (i32.const 1)))
                 (i32.sub (i32.const 0) (local.get $align))))
      (local.set $end (i32.add (local.get $ptr) (local.get $size)))
      (if (i32.lt_u (local.get $end) (local.get $ptr)) (then unreachable))
      (call $grow (local.get $end))
      (if (i32.ne (local.get $old) (i32.const 0))
        (then (memory.copy (local.get $ptr) (local.get $old)
                (select (local.get $old_size) (local.get $size)
                        (i32.lt_u (local.get $old_size) (local.get $size))))))
      (global.set $top (local.get $end))
      (local.get $ptr))
    (func (export "reset") (param i32) (global.set $top (i32.const BASE))))
  (core instance $alloc (instantiate $Alloc))
  (alias core export $alloc "memory" (core memory $mem))
  (alias core export $alloc "realloc" (core func $realloc))
  (alias core export $alloc "reset" (core func $reset))
"""


def allocator_wat(base: int = 16) -> str:
    """The allocator's WAT, handing out memory from `base` up (below it: the return areas)."""
    return _ALLOCATOR_TEMPLATE.replace("BASE", str(base))


_ALLOCATOR = allocator_wat()

# Forwarding: every export calls the matching import with the same flat arguments and the
# return area at address 0. A `get` whose ok string came back UTF-16 (length bit 31: the host
# sent a character above U+00FF) becomes error `internal` instead of a bogus length.
_FORWARDER = """
  (core module $Forward
    (import "a" "memory" (memory 0))
    (import "host" "set" (func $set (param i32 i32 i32 i32 i32 i32 i32)))
    (import "host" "get" (func $get (param i32 i32 i32)))
    (import "host" "delete" (func $delete (param i32 i32 i32)))
    (func (export "set") (param i32 i32 i32 i32 i32 i32) (result i32)
      (call $set (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
                 (local.get 5) (i32.const 0))
      (i32.const 0))
    (func (export "get") (param i32 i32) (result i32)
      (call $get (local.get 0) (local.get 1) (i32.const 0))
      (if (i32.and (i32.eqz (i32.load8_u (i32.const 0)))
                   (i32.lt_s (i32.load (i32.const 8)) (i32.const 0)))
        (then (i32.store8 (i32.const 0) (i32.const 1))
              (i32.store8 (i32.const 4) (i32.const INTERNAL))))
      (i32.const 0))
    (func (export "delete") (param i32 i32) (result i32)
      (call $delete (local.get 0) (local.get 1) (i32.const 0))
      (i32.const 0)))
""".replace("INTERNAL", str(INTERNAL))

_OPTS = ("(memory $mem) (realloc $realloc) string-encoding=latin1+utf16")


def _lower_and_forward(import_instance: str, opts: str = _OPTS) -> str:
    lowers = "\n".join(
        f'  (core func $low_{name} (canon lower (func ${import_instance} "{name}") {opts}))'
        for name in ("set", "get", "delete"))
    return f"""{lowers}
  (core instance $fwd (instantiate $Forward
    (with "a" (instance $alloc))
    (with "host" (instance (export "set" (func $low_set)) (export "get" (func $low_get))
                           (export "delete" (func $low_delete))))))
"""


def _lift(name: str, functype: str) -> str:
    return (f'  (func ${name} {functype} (canon lift (core func $fwd "{name}") {_OPTS}'
            f' (post-return (core func $reset))))')


def _string_iface_decls() -> str:
    return """
    (export "set" (func (param "key" string) (param "value" string) (param "ttl" (option u32))
                        (result (result (error u8)))))
    (export "get" (func (param "key" string) (result (result string (error u8)))))
    (export "delete" (func (param "key" string) (result (result (error u8)))))"""


def private_instance_type_wat() -> str:
    """The instance type of `PAYLOAD_INTERFACE`, as a one-entry component (for its encoding)."""
    return f"(component (type (instance {_string_iface_decls()})))"


# The floor: the same exports answered without calling the host. The last value set is kept
# at `_STASH` (above anything the bump allocator hands out for values up to 16 MiB) and is what
# every get returns until a delete; before any set, get answers not-found. Keys still cross
# from the guest and values in both directions exactly as through the real adapter.
_STASH = 16 << 20
_ANSWER_IN_WASM = """
  (core module $Answer
    (import "a" "memory" (memory 0))
    (import "a" "grow" (func $grow (param i32)))
    (global $stashed (mut i32) (i32.const -1))
    (func (export "set") (param i32 i32) (param $value i32) (param $len i32) (param i32 i32)
                         (result i32)
      (call $grow (i32.add (i32.const STASH) (local.get $len)))
      (memory.copy (i32.const STASH) (local.get $value) (local.get $len))
      (global.set $stashed (local.get $len))
      (i32.store8 (i32.const 0) (i32.const 0)) (i32.const 0))
    (func (export "get") (param i32 i32) (result i32)
      (if (i32.lt_s (global.get $stashed) (i32.const 0))
        (then (i32.store8 (i32.const 0) (i32.const 1)) (i32.store8 (i32.const 4) (i32.const 0)))
        (else (i32.store8 (i32.const 0) (i32.const 0))
              (i32.store (i32.const 4) (i32.const STASH))
              (i32.store (i32.const 8) (global.get $stashed))))
      (i32.const 0))
    (func (export "delete") (param i32 i32) (result i32)
      (global.set $stashed (i32.const -1))
      (i32.store8 (i32.const 0) (i32.const 0)) (i32.const 0)))
  (core instance $fwd (instantiate $Answer (with "a" (instance $alloc))))
""".replace("STASH", str(_STASH))


def adapter_wat() -> str:
    """A component importing ``host`` (the string interface) and exporting ``cache``."""
    return _adapter(_FORWARDER + _lower_and_forward("host"))


def floor_adapter_wat() -> str:
    """`adapter_wat` whose calls never reach the host: for measuring the guest's own floor."""
    return _adapter(_ANSWER_IN_WASM)


def _adapter(core: str) -> str:
    return f"""(component
  (import "host" (instance $host {_string_iface_decls()}))
{_ALLOCATOR}{core}
  (type $error' {_ENUM})
  (export $error "error" (type $error'))
  (type $payload' (list u8))
  (export $payload "payload" (type $payload'))
{_lift("set", '(param "key" string) (param "value" (list u8)) (param "ttl" (option u32))'
       ' (result (result (error $error)))')}
{_lift("get", '(param "key" string) (result (result (list u8) (error $error)))')}
{_lift("delete", '(param "key" string) (result (result (error $error)))')}
  (instance $cache (export "error" (type $error)) (export "payload" (type $payload))
                   (export "set" (func $set))
                   (export "get" (func $get)) (export "delete" (func $delete)))
  (export "cache" (instance $cache)))
"""


def mirror_guest_wat(utf8_keys: bool = False) -> str:
    """A guest that imports the real cache interface and exports it with string payloads.

    Its exports ``set``/``get``/``delete`` take and return payloads as Latin-1 strings, so a
    test can drive a host path with 1 MiB values without wasmtime-py's per-byte conversion.
    With `utf8_keys`, its exports take the key as UTF-8 bytes (``list<u8>``) and hand it on
    as UTF-8: a non-Latin-1 key then reaches a component below without transcoding, which a
    component whose realloc cannot grow a block (componentize-py's) could not take.
    """
    key = "(list u8)" if utf8_keys else "string"
    lower = _OPTS.replace("latin1+utf16", "utf8") if utf8_keys else _OPTS
    return f"""(component
  (import "{CACHE_INTERFACE}" (instance $cache
    (type $e {_ENUM})
    (export "error" (type $error (eq $e)))
    (export "set" (func (param "key" string) (param "value" (list u8))
                        (param "ttl" (option u32)) (result (result (error $error)))))
    (export "get" (func (param "key" string) (result (result (list u8) (error $error)))))
    (export "delete" (func (param "key" string) (result (result (error $error)))))))
{_ALLOCATOR}{_FORWARDER}{_lower_and_forward("cache", lower)}
{_lift("set", f'(param "key" {key}) (param "value" string) (param "ttl" (option u32))'
       ' (result (result (error u8)))')}
{_lift("get", f'(param "key" {key}) (result (result string (error u8)))')}
{_lift("delete", f'(param "key" {key}) (result (result (error u8)))')}
  (export "set" (func $set))
  (export "get" (func $get))
  (export "delete" (func $delete)))
"""
