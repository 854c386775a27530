"""The bench guest's floor: nested with `floor_adapter_wat` in place of the real adapter.

    python -m bench.floor GUEST.wasm OP:SIZE:ITERATIONS ...

The guest's calls cross the same bindings and canonical-ABI lifts as through the real adapter
but are answered in wasm (a get returns the last value set), so its JSON lines time the guest's
own loop-plus-bindings floor. The nesting happens here, as `wasmcache.load_guest` nests the real
adapter (a compile-cache `prepare`, cached under its own key): a component that imports the
private interface is never loaded as a guest.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wasmcache import GuestSession, add_to_linker, compile_cache
from wasmcache.backends.memory import MemoryBackend
from wasmcache.compose import ADAPTER_VERSION
from wasmcache.compose.adapter import floor_adapter_wat
from wasmcache.compose.nest import wrap
from wasmcache.runner import ENGINE_KEY, make_engine
from wasmtime.component import Linker

from bench.empty_callback import run_command


def main(argv: list[str]) -> None:
    guest, *specs = argv
    engine = make_engine()
    component = compile_cache.load_component(
        engine, Path(guest).read_bytes(), f"{ENGINE_KEY}-floor{ADAPTER_VERSION}",
        compile_cache.cache_dir(), prepare=lambda wasm: wrap(wasm, floor_adapter_wat()))
    linker = Linker(engine)
    linker.add_wasip2()
    add_to_linker(linker, GuestSession(MemoryBackend(), "floor"))
    run_command(engine, component, linker, specs)


if __name__ == "__main__":
    main(sys.argv[1:])
