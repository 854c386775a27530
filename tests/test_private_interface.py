"""The adapter's private payload interface is the adapter's alone.

A guest that imports it is refused at load (one line, exit 2), and even a guest linked by an
embedder without that check gets one clear trap line from every host function of it, in both
registration styles, never a Python traceback (docs/hostile-inputs.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime
from wasmcache import GuestSession, add_to_linker
from wasmcache.backends.memory import MemoryBackend
from wasmcache.runner import _first_line
from wasmtime.component import Component, Linker

REFUSED = ("the component imports wasmcache:fastpath/payload@0.1.0, an interface private to "
           "wasmcache's own adapter; a guest may import wasmcache:cache/cache, wasi:keyvalue "
           "and WASI")
TRAP = ("wasmcache:fastpath/payload@0.1.0#set: a payload of this private interface must be a "
        "Latin-1 string, one character per byte; only wasmcache's adapter may call it")


def test_a_guest_importing_the_private_interface_is_refused_at_load(
        run_cli, wat_guest: Callable[[str], Path]) -> None:
    guest = wat_guest("private_import")
    for env in ({}, {"WASMCACHE_FAST_PATH": "0"}, {"WASMCACHE_COMPILE_CACHE": "off"}):
        done = run_cli("run", "--backend", "memory://", str(guest), env=env)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"wasmcache: error: {guest}: {REFUSED}\n"


@pytest.mark.parametrize("style", ["capi", "public"])
def test_a_non_latin1_payload_traps_with_one_line(wat_guest: Callable[[str], Path],
                                                  style: str) -> None:
    """Linked by hand (an embedder who skipped `load_guest`): the value "€" cannot be a payload
    of the private interface; the guest traps with the one line, the same in both styles."""
    engine = wasmtime.Engine()
    component = Component.from_file(engine, str(wat_guest("private_import")))
    linker = Linker(engine)
    linker.add_wasip2()
    backend = MemoryBackend()
    add_to_linker(linker, GuestSession(backend, "t"), style=style)
    store = wasmtime.Store(engine)
    instance = linker.instantiate(store, component)
    run_index = instance.get_export_index(store, "wasi:cli/run@0.2.0")
    run = instance.get_func(store, instance.get_export_index(store, "run", run_index))
    assert run is not None
    with pytest.raises(wasmtime.WasmtimeError) as info:
        run(store)
    assert _first_line(info.value) == TRAP
    assert backend.usage("t") == (0, 0)


# --- the keyvalue adapter's private interface ------------------------------------------------

KV_REFUSED = REFUSED.replace("payload@0.1.0", "keyvalue@0.1.0")
KV = "wasmcache:fastpath/keyvalue@0.1.0"
ONLY = "; only wasmcache's adapter may call"
NOT_LATIN1 = (f"a payload of this private interface must be a Latin-1 string, one character "
              f"per byte{ONLY} it")
NOT_TEXT = (f"a key, name or cursor of this private interface must be UTF-8 carried as "
            f"Latin-1, one character per byte{ONLY} it")


@pytest.fixture(scope="module")
def private_mirror() -> bytes:
    from wasmcache.compose.keyvalue import keyvalue_private_mirror_wat

    return wasmtime.wat2wasm(keyvalue_private_mirror_wat())


def test_every_private_interface_is_in_the_refused_package() -> None:
    """The rule is the package prefix: both adapters' interfaces are in it, and so is any
    other name a guest might try."""
    from wasmcache.compose import PrivateImport, refuse_private_imports
    from wasmcache.wire.cache import PAYLOAD
    from wasmcache.wire.keyvalue import KEYVALUE
    from wasmcache.wire.names import PRIVATE_PACKAGE

    for table in (PAYLOAD, KEYVALUE):
        assert table.private and table.interface.startswith(PRIVATE_PACKAGE)
    for name in (KV, "wasmcache:fastpath/anything-else@9.9.9"):
        with pytest.raises(PrivateImport, match=name):
            refuse_private_imports(["wasi:cli/run@0.2.0", name])
    refuse_private_imports(["wasmcache:cache/cache@0.1.0", "wasmcache:fastpathx/a@1.0.0"])


def test_a_guest_importing_the_private_keyvalue_interface_is_refused_at_load(
        run_cli, private_mirror: bytes, tmp_path: Path) -> None:
    guest = tmp_path / "private_keyvalue.wasm"
    guest.write_bytes(private_mirror)
    for env in ({}, {"WASMCACHE_FAST_PATH": "0"}, {"WASMCACHE_COMPILE_CACHE": "off"}):
        done = run_cli("run", "--backend", "memory://", str(guest), env=env)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"wasmcache: error: {guest}: {KV_REFUSED}\n"


#: (function, arguments, what the guest gets: a value, or the one trap line after "#function: ")
HOSTILE_CALLS: list[tuple[str, tuple[object, ...], object]] = [
    ("open", ("default",), 0),
    ("open", ("\u20ac",), ("trap", NOT_TEXT)),
    ("open", ("\xff",), ("trap", NOT_TEXT)),  # not UTF-8
    ("get", (0, "k"), "none"),
    ("get", (99, "k"), ("trap", f"unknown bucket id 99{ONLY} this interface")),
    ("get", (0, "\xc3"), ("trap", NOT_TEXT)),
    ("set", (0, "k", "\u20ac"), ("trap", NOT_LATIN1)),
    ("set", (0, "\u20ac", "v"), ("trap", NOT_TEXT)),
    ("set", (2**32 - 1, "k", "v"), ("trap", f"unknown bucket id 4294967295{ONLY} this "
                                            "interface")),
    ("exists", (1, "k"), ("trap", f"unknown bucket id 1{ONLY} this interface")),
    ("list-keys", (0, "\u20ac"), ("trap", NOT_TEXT)),
    ("list-keys", (0, "zz"), "other"),
    ("cas-current", (12345,), ("trap", f"unknown cas id 12345{ONLY} this interface")),
    ("swap", (777, "v"), ("trap", f"unknown cas id 777{ONLY} this interface")),
    ("drop-cas", (4242,), None),
    ("increment", (0, "n", -(2**63)), -(2**63)),
    ("get-many", (0, ["k", "\xff"]), ("trap", NOT_TEXT)),
    ("set-many", (0, [("k", "\u20ac")]), ("trap", NOT_LATIN1)),
    ("set-many", (0, [("k", "v"), ("", "v")]), "other"),
    ("delete-many", (5, []), ("trap", f"unknown bucket id 5{ONLY} this interface")),
]


@pytest.mark.parametrize("style", ["capi", "public"])
def test_every_private_keyvalue_function_answers_or_traps_in_one_line(
        private_mirror: bytes, style: str) -> None:
    """Linked by hand (an embedder who skipped `load_guest`): whatever the wire can carry, each
    function answers an error case or traps with one line naming itself, the same in both
    styles; a refused call writes nothing."""
    from wasmcache.compose.keyvalue import PRIVATE_MIRROR_EXPORT
    from wasmtime.component import Variant

    engine = wasmtime.Engine()
    component = Component(engine, private_mirror)
    backend = MemoryBackend()
    for name, args, expected in HOSTILE_CALLS:
        linker = Linker(engine)
        add_to_linker(linker, GuestSession(backend, "t"), style=style)
        store = wasmtime.Store(engine)
        instance = linker.instantiate(store, component)
        mirror = instance.get_export_index(store, PRIVATE_MIRROR_EXPORT)
        func = instance.get_func(store, instance.get_export_index(store, name, mirror))
        assert func is not None
        if isinstance(expected, tuple):
            with pytest.raises(wasmtime.WasmtimeError) as info:
                func(store, *args)
            assert _first_line(info.value) == f"{KV}#{name}: {expected[1]}", (name, args)
            continue
        got = func(store, *args)
        got = got.tag if isinstance(got, Variant) else got
        assert got == expected, (name, args, got)
    assert backend.usage("t") == (1, 20)  # only the counter n: "-9223372036854775808"
