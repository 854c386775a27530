"""Run a command guest: load (with the compile cache), link WASI and the cache, call `wasi:cli/run`.

This is the high-level Python API behind ``wasmcache run``; embedders who want their own engine
or store use `add_to_linker` directly.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from wasmtime import Config, Engine, ExitTrap, Store, Trap, WasiConfig, WasmtimeError
from wasmtime.component import Component, Linker, Variant

from . import compile_cache
from .backend import Backend
from .errors import WasmcacheError
from .fastpath import ADAPTER_VERSION, prepare_component
from .fastpath import enabled as fast_path_enabled
from .host import CacheHost
from .keyvalue import KeyValueHost
from .keyvalue.host import DEFAULT_PAGE_SIZE
from .limits import DEFAULT_NAMESPACE, Limits
from .linker import CACHE_INTERFACE, add_to_linker
from .plugins import open_backend
from .policy import UNRESTRICTED, Policy
from .preflight import check_backend
from .stats import Stats

RUN_EXPORT_PREFIX = "wasi:cli/run@0.2."


class GuestTrap(WasmcacheError):
    """The guest trapped (or was stopped); the message is one line."""


@dataclass
class GuestOptions:
    """How one guest runs: its identity, its limits and its argv."""

    namespace: str = DEFAULT_NAMESPACE
    limits: Limits = field(default_factory=Limits)
    policy: Policy = UNRESTRICTED
    args: Sequence[str] = ()
    program_name: str | None = None
    #: seconds the guest may run before it is stopped (epoch interruption); None = no limit
    timeout: float | None = None
    #: most bytes of linear memory the guest may have; None = no limit
    max_memory: int | None = None
    #: collects per-call statistics when given
    stats: Stats | None = None
    #: wasi:keyvalue buckets the guest may open besides "default" (docs/keyvalue.md)
    buckets: tuple[str, ...] = ()
    #: most keys in one wasi:keyvalue list-keys page
    keys_per_page: int = DEFAULT_PAGE_SIZE


def make_engine() -> Engine:
    """The engine every guest of this host runs on.

    Epoch interruption is always on, so one compiled artefact serves runs with and without
    --timeout (the compile cache is keyed on these settings: see ENGINE_KEY). An embedder that
    makes its own Store on this engine must give it a deadline first
    (``store.set_epoch_deadline(NO_DEADLINE)``), or the guest traps with "interrupt" at once.
    """
    config = Config()
    config.epoch_interruption = True
    return Engine(config)


ENGINE_KEY = "epoch"
NO_DEADLINE = 2**62


class GuestTimeout(GuestTrap):
    """The guest ran longer than its --timeout."""


@contextmanager
def _deadline(engine: Engine, store: Store, timeout: float | None) -> Iterator[threading.Event]:
    """Interrupt the guest after `timeout` seconds; yields an event set when it fired."""
    fired = threading.Event()
    if timeout is None:
        yield fired
        return
    store.set_epoch_deadline(1)

    def interrupt() -> None:
        fired.set()
        engine.increment_epoch()

    timer = threading.Timer(timeout, interrupt)
    timer.daemon = True
    timer.start()
    try:
        yield fired
    finally:
        timer.cancel()


def load_guest(engine: Engine, path: str | os.PathLike[str],
               cache: Path | None | str = "env") -> Component:
    """Read and compile (or load the cached compilation of) a component, with one-line errors."""
    try:
        wasm = Path(path).read_bytes()
    except OSError as exc:
        raise WasmcacheError(f"cannot read guest {os.fspath(path)!r}: {exc.strerror}") from None
    if wasm[:4] != b"\0asm":
        raise WasmcacheError(f"{os.fspath(path)}: not a WebAssembly file (no \\0asm header)")
    if wasm[4:8] == b"\x01\x00\x00\x00":
        raise WasmcacheError(
            f"{os.fspath(path)}: a core WebAssembly module, not a component; build a component "
            "(componentize-py, jco, cargo component) or wrap it with `wasm-tools component new`"
        )
    directory = compile_cache.cache_dir() if cache == "env" else cache
    # The payload adapter is nested in only when compiling (a warm start skips the 18 MB
    # rewrite); the key names whether it is on and its version.
    key = f"{ENGINE_KEY}-adapter{ADAPTER_VERSION}" if fast_path_enabled() else ENGINE_KEY
    try:
        return compile_cache.load_component(engine, wasm, key,
                                            Path(directory) if directory else None,
                                            prepare=prepare_component)
    except WasmtimeError as exc:
        raise WasmcacheError(
            f"{os.fspath(path)}: not a valid component: {_first_line(exc)}"
        ) from None


def _first_line(exc: BaseException) -> str:
    """The one line of a wasmtime error that tells a user what happened (its root cause)."""
    text = str(exc).strip()
    if "Caused by:" in text:
        causes = [line.strip() for line in text.split("Caused by:", 1)[1].splitlines()]
        causes = [line.split(": ", 1)[1] if line[:1].isdigit() and ": " in line else line
                  for line in causes if line]
        if causes:
            return causes[-1]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _memory_hint(options: GuestOptions) -> str:
    if options.max_memory is None:
        return ""
    return f" (its memory is capped at {options.max_memory / 2**20:g} MiB by --max-memory)"


def _run_export(component: Component, engine: Engine) -> str:
    exports = component.type.exports(engine)
    for name in exports:
        if name.startswith(RUN_EXPORT_PREFIX):
            return name
    raise WasmcacheError(
        "guest does not export wasi:cli/run@0.2.x: build it for the `command` world "
        "(componentize-py -d wit -w command ...)"
    )


def _missing_import(component: Component, engine: Engine, linker_error: str) -> str:
    for name in component.type.imports(engine):
        if name in linker_error:
            return name
    return _first_line(WasmtimeError(linker_error))


def run_guest(wasm: str | os.PathLike[str], backend: str | Backend,
              options: GuestOptions | None = None, *, engine: Engine | None = None) -> int:
    """Run a command guest's ``wasi:cli/run`` and return its exit status.

    0 when run returns ok, 1 when it returns err, N when the guest exits with N. Raises
    `WasmcacheError` for a bad guest or backend and `GuestTrap` when the guest traps.
    """
    options = options or GuestOptions()
    engine = engine or make_engine()
    component = load_guest(engine, wasm)
    run_name = _run_export(component, engine)
    store_backend = open_backend(backend) if isinstance(backend, str) else backend
    try:
        check_backend(store_backend)  # a misconfiguration ends here, before the guest starts
        host = CacheHost(store_backend, options.namespace, options.limits, options.policy,
                         options.stats)
        linker = Linker(engine)
        linker.add_wasip2()
        add_to_linker(linker, host, keyvalue=KeyValueHost(
            store_backend, options.namespace, options.limits, options.policy, options.buckets,
            options.keys_per_page, options.stats))
        store = Store(engine)
        store.set_epoch_deadline(NO_DEADLINE)
        if options.max_memory is not None:
            store.set_limits(memory_size=options.max_memory)
        wasi = WasiConfig()
        program = options.program_name or Path(os.fspath(wasm)).name
        wasi.argv = [program, *options.args]
        wasi.inherit_stdin()
        wasi.inherit_stdout()
        wasi.inherit_stderr()
        store.set_wasi(wasi)
        try:
            instance = linker.instantiate(store, component)
        except WasmtimeError as exc:
            message = str(exc)
            if "matching implementation was not found" in message or "import" in message:
                name = _missing_import(component, engine, message)
                raise WasmcacheError(
                    f"guest imports {name}, which this host does not provide "
                    f"(it provides WASI 0.2, {CACHE_INTERFACE} and wasi:keyvalue/store, "
                    "atomics and batch @0.2.0-draft2)"
                ) from None
            raise GuestTrap(f"guest failed to start: {_first_line(exc)}{_memory_hint(options)}"
                            ) from None
        run_index = instance.get_export_index(store, run_name)
        func_index = instance.get_export_index(store, "run", run_index) if run_index else None
        run = instance.get_func(store, func_index) if func_index else None
        if run is None:
            raise WasmcacheError(f"guest's {run_name} has no `run` function")
        with _deadline(engine, store, options.timeout) as timed_out:
            try:
                result = run(store)
            except ExitTrap as exc:
                return exc.code
            except (Trap, WasmtimeError) as exc:
                if timed_out.is_set():
                    raise GuestTimeout(
                        f"guest stopped: it ran longer than its timeout of {options.timeout:g} s"
                    ) from None
                raise GuestTrap(f"guest trapped: {_first_line(exc)}{_memory_hint(options)}"
                                ) from None
        if isinstance(result, Variant):
            return 0 if result.tag == "ok" else 1
        return 0
    finally:
        if isinstance(backend, str):
            store_backend.close()
