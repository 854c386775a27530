"""Loading a command guest (with the compile cache), its options, and one run of it.

`GuestOptions`, `make_engine`, `load_guest` and the exceptions are shared by `wasmcache.Guest`
(guest.py), which keeps a guest loaded and linked for many runs; `run_guest` is one run of a
`Guest` with this process's stdio (``wasmcache run``). Embedders who want their own engine or
store use `add_to_linker` directly.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wasmtime import Config, Engine, WasmtimeError
from wasmtime.component import Component

from . import compile_cache
from .buckets import DEFAULT_PAGE_SIZE
from .compose.version import ADAPTER_VERSION
from .epoch import NO_DEADLINE as NO_DEADLINE  # re-exported: embedders' stores need it
from .errors import WasmcacheError
from .errors import first_line as _first_line
from .limits import DEFAULT_NAMESPACE, Limits
from .policy import UNRESTRICTED, Policy

if TYPE_CHECKING:
    from .backend import Backend
    from .observe import Observer

RUN_EXPORT_PREFIX = "wasi:cli/run@0.2."


class GuestTrap(WasmcacheError):
    """The guest trapped (or was stopped); the message is one line.

    Raised by `Guest.run` with captured output, `stdout` and `stderr` hold what the guest wrote
    before it stopped.
    """

    stdout: bytes | None = None
    stderr: bytes | None = None


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
    #: sees every guest call (``--stats``, telemetry) when given; nothing is timed otherwise
    observer: Observer | None = None
    #: wasi:keyvalue buckets the guest may open besides "default" (docs/keyvalue.md)
    buckets: tuple[str, ...] = ()
    #: most keys in one wasi:keyvalue list-keys page
    keys_per_page: int = DEFAULT_PAGE_SIZE
    #: components serving the guest's wasmcache:cache import, each served by the next and the
    #: last by the host (``--cache-component``; docs/cache-components.md)
    cache_components: Sequence[str | os.PathLike[str]] = ()
    #: the config profile the guest runs under, for telemetry (None: not from a config)
    profile: str | None = None


def make_engine(*, pooled: bool = False) -> Engine:
    """The engine every guest of this host runs on.

    Epoch interruption is always on, so one compiled artefact serves runs with and without
    --timeout (the compile cache is keyed on these settings: see ENGINE_KEY). An embedder that
    makes its own Store on this engine must give it a deadline first
    (``store.set_epoch_deadline(NO_DEADLINE)``), or the guest traps with "interrupt" at once.

    `pooled` gives instances Wasmtime's pooling allocator (see `POOL_KEEP_RESIDENT`), for an
    engine that serves many runs: without it each instance maps and unmaps its memories, and
    with two threads running guests the kernel's TLB flushes for those unmaps cost more than
    the second thread gains (bench/README.md). It reserves about 4 TiB of address space (no
    memory), so it is skipped under an address-space limit (``ulimit -v``), and where this
    wasmtime-py lacks the allocator's C functions; compiled components serve both kinds.
    """
    config = Config()
    config.epoch_interruption = True
    if pooled and _address_space_unlimited():
        from ._wasmtime import use_pooling_allocator

        use_pooling_allocator(config, POOL_KEEP_RESIDENT)
    return Engine(config)


#: bytes of each memory and table a pooled engine keeps resident between instances: enough
#: for the 18 MB componentize-py guest's pages a run dirties (4 MiB was not: its two-thread
#: rate stayed below one thread's), and at most that much RSS per slot in use or warm (Wasmtime
#: keeps up to 100 warm slots, each affine to the module it last held)
POOL_KEEP_RESIDENT = 16 << 20


def _address_space_unlimited() -> bool:
    try:
        import resource
    except ImportError:  # not a POSIX system: no ulimit -v to respect
        return True
    return resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY


_shared: Engine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> Engine:
    """The pooled engine the `Guest`s of this process share unless given their own.

    One engine per process is what Wasmtime recommends: one pool of instance slots, one epoch
    ticker for every timeout. Made on first use.
    """
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = make_engine(pooled=True)
        return _shared


ENGINE_KEY = "epoch"


class GuestTimeout(GuestTrap):
    """The guest ran longer than its --timeout."""


def load_guest(engine: Engine, path: str | os.PathLike[str],
               cache: Path | None | str = "env",
               components: Sequence[str | os.PathLike[str]] = ()) -> Component:
    """Read and compile (or load the cached compilation of) a component, with one-line errors;
    with `components`, composed with those cache components (`compose.layers.load_composed`).

    An unchanged file whose compilation is cached is not even read (compile_cache's source
    records); any other is read, checked and hashed.
    """
    directory = compile_cache.cache_dir() if cache == "env" else cache
    directory = Path(directory) if directory else None
    # The payload adapter is nested in only when compiling (a warm start skips the 18 MB
    # rewrite); the key names its version.
    key = f"{ENGINE_KEY}-adapter{ADAPTER_VERSION}"
    source = Path(path)
    if directory is not None and not components:
        component = compile_cache.load_recorded(engine, source, key, directory)
        if component is not None:
            return component
    try:
        with open(source, "rb") as file:
            stat = os.fstat(file.fileno())
            wasm = file.read()
    except OSError as exc:
        raise WasmcacheError(f"cannot read guest {os.fspath(path)!r}: {exc.strerror}") from None
    if wasm[:4] != b"\0asm":
        raise WasmcacheError(f"{os.fspath(path)}: not a WebAssembly file (no \\0asm header)")
    if wasm[4:8] == b"\x01\x00\x00\x00":
        raise WasmcacheError(
            f"{os.fspath(path)}: a core WebAssembly module, not a component; build a component "
            "(componentize-py, jco, cargo component) or wrap it with `wasm-tools component new`"
        )
    if components:
        from .compose.layers import load_composed

        return load_composed(engine, os.fspath(path), wasm, components, key, directory)
    try:
        return compile_cache.load_component(engine, wasm, key, directory,
                                            prepare=_prepare, inspect=_refuse_private,
                                            source=(source, stat))
    except WasmtimeError as exc:
        raise WasmcacheError(
            f"{os.fspath(path)}: not a valid component: {_first_line(exc)}"
        ) from None
    except WasmcacheError as exc:
        raise WasmcacheError(f"{os.fspath(path)}: {exc}") from None


def _prepare(wasm: bytes) -> bytes:
    """The payload adapter nested with the guest (imported only when a guest is compiled);
    `PrivateImport` for a guest that imports a private interface itself."""
    from .compose import prepare_component

    return prepare_component(wasm)


def _refuse_private(component: Component, engine: Engine, prepared: bool) -> None:
    """Refuse a guest left unwrapped that imports a private interface (`prepare_component`
    already refused a wrapped one's own such import)."""
    if not prepared:
        from .compose import refuse_private_imports

        refuse_private_imports(list(component.type.imports(engine)))


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


#: Wasmtime's words for an import the linker does not define ("component imports instance
#: `x`, but a matching implementation was not found in the linker").
_MISSING_IMPORT = re.compile(r"imports \w+ `([^`]+)`, but a matching implementation was not "
                             r"found in the linker")


def missing_import(linker_error: str) -> str | None:
    """The import the linker lacks, when that is why instantiating failed; else None."""
    match = _MISSING_IMPORT.search(linker_error)
    return None if match is None else match.group(1)


def run_guest(wasm: str | os.PathLike[str], backend: str | Backend,
              options: GuestOptions | None = None, *, engine: Engine | None = None) -> int:
    """Run a command guest's ``wasi:cli/run`` once, with this process's stdio; its exit status.

    0 when run returns ok, 1 when it returns err, N when the guest exits with N. Raises
    `WasmcacheError` for a bad guest or backend and `GuestTrap` when the guest traps. A thin
    shell over `wasmcache.Guest`, which keeps a guest warm for many runs.
    """
    from .guest import Guest

    options = options or GuestOptions()
    # one run: nothing to pool, and a pool's set-up would only lengthen the CLI's start
    with Guest(wasm, backend, options, engine=engine or make_engine()) as guest:
        return guest.run(inherit_stdio=True).status
