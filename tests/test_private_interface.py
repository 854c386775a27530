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
