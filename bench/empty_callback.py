"""The cheapest host call a Python host can make: the bench guest against an empty callback.

    python -m bench.empty_callback GUEST.wasm OP:SIZE:ITERATIONS ...

Runs the (fast-path wrapped) bench guest with the payload interface's `delete` replaced by a raw
C-API callback that only writes "ok" (set and get are wasmcache's own). A guest delete then
costs its own floor plus wasmtime's host-call machinery and ctypes' callback entry, and nothing
of wasmcache's: what is left between this and a real `wasmcache run` is our Python.
"""

from __future__ import annotations

import dataclasses
import sys

from wasmcache import GuestSession, _wasmtime
from wasmcache.backends.memory import MemoryBackend
from wasmcache.runner import NO_DEADLINE, load_guest, make_engine
from wasmcache.wire import capi
from wasmcache.wire.cache import CACHE, PAYLOAD
from wasmtime import Engine, Store, WasiConfig
from wasmtime.component import Component, Linker


def empty_delete(_d: int, _c: int, _t: int, _args: int, _n: int, results: int, _r: int) -> int:
    _wasmtime.write_result(results, True, 0)  # result<_, error> = ok
    return 0


def run_command(engine: Engine, component: Component, linker: Linker, specs: list[str]) -> None:
    """Run a bench guest's ``wasi:cli/run`` with argv `specs` (its JSON lines go to stdout)."""
    store = Store(engine)
    store.set_epoch_deadline(NO_DEADLINE)
    wasi = WasiConfig()
    wasi.argv = ["bench_guest", *specs]
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    store.set_wasi(wasi)
    instance = linker.instantiate(store, component)
    run_index = instance.get_export_index(store, "wasi:cli/run@0.2.0")
    run = instance.get_func(store, instance.get_export_index(store, "run", run_index))
    assert run is not None
    run(store)


def main(argv: list[str]) -> None:
    guest, *specs = argv
    engine = make_engine()
    component = load_guest(engine, guest)
    linker = Linker(engine)
    linker.add_wasip2()
    session = GuestSession(MemoryBackend(), "empty-callback")
    set_and_get = dataclasses.replace(PAYLOAD, functions=tuple(
        function for function in PAYLOAD.functions if function.name != "delete"))
    with linker.root() as root:
        with root.add_instance(CACHE.interface) as iface:  # still imported by the wrapper
            capi.register(iface, CACHE, session)
        with root.add_instance(PAYLOAD.interface) as iface:
            capi.register(iface, set_and_get, session)
            capi.define(iface, "delete", empty_delete)
    run_command(engine, component, linker, specs)


if __name__ == "__main__":
    main(sys.argv[1:])
