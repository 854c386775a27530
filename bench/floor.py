"""The bench guest's floor, run the way `wasmcache run` runs a guest, in a fresh process.

    python -m bench.floor GUEST.wasm OP:SIZE:ITERATIONS ...     # prints the guest's JSON lines

The guest nested with `floor_adapter_wat()` (every call answered in wasm) imports the private
payload interface, which `wasmcache run` refuses in a guest file: only the wrapper it builds
itself may import it. This builds the floor wrapper, compiles it through the compile cache and
runs it on the same engine, linker and WASI setup as `wasmcache run`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from wasmcache import GuestSession, compile_cache
from wasmcache.backends.memory import MemoryBackend
from wasmcache.compose.adapter import ADAPTER_VERSION, floor_adapter_wat
from wasmcache.compose.nest import wrap
from wasmcache.linker import add_to_linker
from wasmcache.runner import ENGINE_KEY, make_engine
from wasmtime.component import Linker

from bench.empty_callback import run_command


def main(argv: list[str]) -> None:
    guest, *specs = argv
    engine = make_engine()
    wasm = wrap(Path(guest).read_bytes(), floor_adapter_wat())
    component = compile_cache.load_component(engine, wasm, f"{ENGINE_KEY}-floor{ADAPTER_VERSION}",
                                             compile_cache.cache_dir())
    linker = Linker(engine)
    linker.add_wasip2()
    add_to_linker(linker, GuestSession(MemoryBackend(), "floor"))
    run_command(engine, linker, component, [Path(guest).name, *specs])


if __name__ == "__main__":
    main(sys.argv[1:])
