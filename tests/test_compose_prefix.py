"""wasmcache.compose.prefix: several components' imports in one wrapper, renumbered.

Checked with Wasmtime itself: a wrapper holding only the merged prefix compiles, and its
imports (reflected) are what each component asked for, each name once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmtime
from wasmcache.compose.adapter import mirror_guest_wat
from wasmcache.compose.nest import COMPONENT_HEADER, CUSTOM, Unsupported, _section, _sections
from wasmcache.compose.prefix import merge_prefixes, read_prefix
from wasmtime.component import Component

ENGINE = wasmtime.Engine()
GUESTS = Path(__file__).resolve().parent / "guests"

# Two components that share two imports, each using a function of "t:x/use" the other does
# not, over a resource both alias out of "t:x/res".
USES = """(component $c
  (import "t:x/res@1.0.0" (instance $res (export "r" (type (sub resource)))))
  (alias export $res "r" (type $r))
  (import "t:x/use@1.0.0" (instance
    (alias outer $c $r (type $outer))
    (export "r" (type $own (eq $outer)))
    (export "{name}" (func (param "x" (own $own))))))
  (import "t:x/only-{name}@1.0.0" (func)))"""


def imports_of(wasm: bytes) -> dict[str, set[str] | None]:
    """Each import of a wrapper made of `merge_prefixes([read_prefix(wasm)...])` alone, with the
    names its instance type exports."""
    component = Component(ENGINE, wasm)
    found: dict[str, set[str] | None] = {}
    for name, item in component.type.imports(ENGINE).items():
        exports = getattr(item.ty, "exports", None) if hasattr(item, "ty") else None
        found[name] = set(exports(ENGINE)) if callable(exports) else None
    return found


def merged(*wasms: bytes) -> bytes:
    return COMPONENT_HEADER + b"".join(merge_prefixes([read_prefix(w) for w in wasms]).sections)


def prefix_bytes(wasm: bytes) -> bytes:
    """The component's own prefix sections, custom sections left out."""
    end = read_prefix(wasm).end
    return b"".join(_section(sid, wasm[start:stop]) for sid, start, stop in _sections(wasm)
                    if stop <= end and sid != CUSTOM)


@pytest.mark.parametrize("name", ["spy_cache", "cache_delete", "wrong_signature_cache"])
def test_one_prefix_merged_alone_is_copied_byte_for_byte(name: str) -> None:
    wasm = wasmtime.wat2wasm((GUESTS / f"{name}.wat").read_text())
    assert merged(wasm)[8:] == prefix_bytes(wasm)


def test_the_mirror_prefix_round_trips() -> None:
    wasm = wasmtime.wat2wasm(mirror_guest_wat())
    assert merged(wasm)[8:] == prefix_bytes(wasm)


def test_a_shared_import_is_declared_once_with_the_union_of_its_functions() -> None:
    first = wasmtime.wat2wasm(USES.format(name="f"))
    second = wasmtime.wat2wasm(USES.format(name="g"))
    assert imports_of(first)["t:x/use@1.0.0"] == {"r", "f"}
    for order in ((first, second), (second, first)):
        imports = imports_of(merged(*order))
        assert sorted(imports) == ["t:x/only-f@1.0.0", "t:x/only-g@1.0.0", "t:x/res@1.0.0",
                                   "t:x/use@1.0.0"]
        assert imports["t:x/use@1.0.0"] == {"r", "f", "g"}


def test_shared_imports_in_opposite_orders_are_refused() -> None:
    one = wasmtime.wat2wasm('(component (import "t:x/a@1.0.0" (instance))'
                            ' (import "t:x/b@1.0.0" (instance)))')
    other = wasmtime.wat2wasm('(component (import "t:x/b@1.0.0" (instance))'
                              ' (import "t:x/a@1.0.0" (instance)))')
    with pytest.raises(Unsupported, match="t:x/a@1.0.0 and t:x/b@1.0.0 in different orders"):
        merge_prefixes([read_prefix(one), read_prefix(other)])


def test_one_name_imported_as_two_kinds_is_refused() -> None:
    one = wasmtime.wat2wasm('(component (import "t:x/a@1.0.0" (instance)))')
    other = wasmtime.wat2wasm('(component (import "t:x/a@1.0.0" (func)))')
    with pytest.raises(Unsupported, match="imported as different kinds"):
        merge_prefixes([read_prefix(one), read_prefix(other)])


def test_imports_after_the_prefix_are_refused() -> None:
    late = wasmtime.wat2wasm('(component (core module $m) (import "t:x/a@1.0.0" (instance)))')
    with pytest.raises(Unsupported, match="imports after the leading"):
        read_prefix(late)


@pytest.mark.slow
def test_two_python_components_share_the_hosts_wasi_instances(hello_guest: Path) -> None:
    """hello_cache and compress_cache (both componentize-py) import the same WASI 0.2.9
    interfaces, each declaring only the functions it uses: the wrapper imports each once,
    with every function either uses."""
    from build import build_guest

    guest, middleware = hello_guest.read_bytes(), build_guest("compress_cache").read_bytes()
    own = [imports_of(merged(wasm)) for wasm in (guest, middleware)]
    both = imports_of(merged(guest, middleware))
    assert sorted(both) == sorted(set(own[0]) | set(own[1]))
    differing = [name for name in set(own[0]) & set(own[1]) if own[0][name] != own[1][name]]
    assert "wasi:io/streams@0.2.9" in differing  # what makes the union needed
    for name, exports in both.items():
        wanted = [o[name] for o in own if name in o]
        assert exports == set().union(*wanted) if wanted[0] is not None else exports is None
