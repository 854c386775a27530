"""A command guest kept warm for many runs: compiled, linked and connected once.

    with wasmcache.Guest("guest.wasm", "redis://127.0.0.1:6379/0", namespace="shop") as guest:
        result = guest.run(["get", "cart:1"])        # a fresh instance every run
        result.status, result.stdout, result.stderr   # 0, b"...", b""

Compiling an 18 MB componentize-py guest takes seconds and loading its cached compilation
milliseconds, but instantiating it takes about 1 ms and a small component 0.03 ms: a program
that runs a guest many times keeps a `Guest` and pays only the instance per run. Every run gets
its own `Store` (so nothing of one run's memory is seen by the next, and runs may go on in
several threads at once); the engine, the compiled component, the linker with its host
functions and the backend connection are shared. `run_guest` and ``wasmcache run`` are built on
this class, so there is one way to run a guest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from wasmtime import Engine, ExitTrap, Store, Trap, WasiConfig, WasmtimeError
from wasmtime.component import Component, Linker, Variant

from .backend import Backend
from .epoch import NO_DEADLINE, ticker_for
from .errors import WasmcacheError
from .errors import first_line as _first_line
from .limits import validate_namespace
from .plugin_index import check_url
from .runner import (
    GuestOptions,
    GuestTimeout,
    GuestTrap,
    _memory_hint,
    _run_export,
    load_guest,
    missing_import,
    shared_engine,
)
from .wire.names import CACHE_INTERFACE, PRIVATE_PACKAGE

#: import-name prefixes that need the cache host (a guest nested with the payload adapter
#: imports the private package instead of, or besides, the cache interface)
CACHE_PREFIXES = (CACHE_INTERFACE.split("/")[0] + "/", PRIVATE_PACKAGE)
KEYVALUE_PREFIX = "wasi:keyvalue/"
INTERRUPT = "wasm trap: interrupt"  # what an epoch deadline reports (the only interrupt here)

RunScope = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class RunResult:
    """One run: the exit status the CLI would give, and what the guest wrote.

    `stdout` and `stderr` are the bytes captured from this run, or None when it inherited the
    process's stdio.
    """

    status: int
    stdout: bytes | None
    stderr: bytes | None


def _host_needed(imports: frozenset[str]) -> bool:
    """Whether the component imports anything a backend serves (else none is opened)."""
    return any(name.startswith((*CACHE_PREFIXES, KEYVALUE_PREFIX)) for name in imports)


def _link_host(linker: Linker, backend: Backend, options: GuestOptions,
               imports: frozenset[str]) -> RunScope:
    """Build the one `GuestSession` every run of this guest goes through and define it in
    `linker`.

    The one place that decides the guest's host side. Only the interfaces the component imports
    are set up (a guest without wasi:keyvalue never loads its linker). The session serves
    concurrent runs (it keeps no per-run state; its quota counts and the keyvalue handle
    tables are locked). Returns what brackets each run: it releases the keyvalue handles a run
    left open (wasmtime drops a store without calling host destructors).
    """
    from .linker import add_to_linker
    from .session import GuestSession

    session = GuestSession(backend, options.namespace, options.limits, options.policy,
                           buckets=options.buckets, keys_per_page=options.keys_per_page,
                           observer=options.observer)
    keyvalue = any(name.startswith(KEYVALUE_PREFIX) for name in imports)
    add_to_linker(linker, session, keyvalue=keyvalue)
    if not keyvalue:
        return nullcontext
    from .keyvalue.linker import run_scope

    return run_scope


def _open_backend(backend: str | Backend) -> Backend:
    """The one place a guest's backend is opened (a URL through its plugin) and checked once
    (`wasmcache.preflight`): a misconfigured store raises `BackendMisconfigured` here, before
    any run; an unreachable one is logged and its calls answer ``unavailable``."""
    from .preflight import check_backend

    opened = backend
    if isinstance(backend, str):
        from .plugins import open_backend

        opened = open_backend(backend)
    try:
        check_backend(opened)
    except BaseException:
        if opened is not backend:
            opened.close()
        raise
    return opened


def _check_options(options: GuestOptions) -> None:
    """One-line errors for options that would otherwise surface only in the first run."""
    validate_namespace(options.namespace)
    if options.buckets:
        from .buckets import bucket_namespace

        for bucket in options.buckets:
            bucket_namespace(options.namespace, bucket)


class _Output:
    """Where one run's stdin comes from and its stdout and stderr go, when they are captured.

    Wasmtime writes a file given as stdout synchronously, on the guest's thread; its custom
    callback output goes through a writer task on another thread instead, which measured
    2.5 times slower for the 18 MB guest (bench/README.md). So on Linux each stream is an
    anonymous in-memory file (memfd) that wasmtime opens by its /proc path (all through
    `WasiConfig`'s public file options); where that is not available, the callbacks collect the
    output and a temporary file holds the input.
    """

    _files_work = hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")

    def __init__(self, wasi: WasiConfig, stdin: bytes) -> None:
        self._fds: list[int] = []
        self._chunks: tuple[list[bytes], list[bytes]] = ([], [])
        self._stdin_path: str | None = None
        if _Output._files_work:
            try:
                for name in ("stdout", "stderr"):
                    self._fds.append(os.memfd_create(f"wasmcache-{name}", os.MFD_CLOEXEC))
                wasi.stdout_file = f"/proc/self/fd/{self._fds[0]}"
                wasi.stderr_file = f"/proc/self/fd/{self._fds[1]}"
                if stdin:
                    self._fds.append(os.memfd_create("wasmcache-stdin", os.MFD_CLOEXEC))
                    os.pwrite(self._fds[2], stdin, 0)
                    wasi.stdin_file = f"/proc/self/fd/{self._fds[2]}"
                return
            except (OSError, WasmtimeError):
                _Output._files_work = False
                self.close()
        wasi.stdout_custom = self._chunks[0].append
        wasi.stderr_custom = self._chunks[1].append
        if stdin:
            import tempfile

            fd, self._stdin_path = tempfile.mkstemp(prefix="wasmcache-stdin-")
            with os.fdopen(fd, "wb") as file:
                file.write(stdin)
            wasi.stdin_file = self._stdin_path

    def read(self) -> tuple[bytes, bytes]:
        """Everything the run wrote, as (stdout, stderr); closes the files."""
        if not self._fds:
            self.close()
            return b"".join(self._chunks[0]), b"".join(self._chunks[1])
        try:
            out, err = (os.pread(fd, os.fstat(fd).st_size, 0) for fd in self._fds[:2])
        finally:
            self.close()
        return out, err

    def close(self) -> None:
        fds, self._fds = self._fds, []
        for fd in fds:
            os.close(fd)
        path, self._stdin_path = self._stdin_path, None
        if path is not None:
            os.unlink(path)


class Guest:
    """A command guest loaded, linked and connected once; `run` it as often as you like.

    `backend` is a URL (opened here, closed by `close`) or an open `Backend` (left open); a
    URL is opened only when the component imports the cache or wasi:keyvalue (otherwise the
    `backend` attribute stays None), but its scheme is always checked. `options` (or keyword
    arguments naming `GuestOptions` fields) set the namespace, limits, policy, buckets, page
    size, memory cap and stats; their `args` and `timeout` are the defaults of `run`. `engine`
    defaults to `shared_engine()`, the pooled engine this process's guests share; an engine's
    epoch serves the timeouts of every guest on it (see `wasmcache.epoch`). Raises
    `WasmcacheError` for a bad file, a component without ``wasi:cli/run``, an unknown scheme
    or a backend that cannot be opened.
    """

    def __init__(self, path: str | os.PathLike[str], backend: str | Backend,
                 options: GuestOptions | None = None, *, engine: Engine | None = None,
                 **fields: Any) -> None:
        options = options or GuestOptions()
        self.options = replace(options, **fields) if fields else options
        _check_options(self.options)
        self.path = os.fspath(path)
        self.program_name = self.options.program_name or Path(self.path).name
        self.engine = engine or shared_engine()
        self.component: Component = load_guest(self.engine, path,
                                               components=self.options.cache_components)
        run_name = _run_export(self.component, self.engine)
        run_index = self.component.get_export_index(run_name)
        func_index = self.component.get_export_index("run", run_index) if run_index else None
        if func_index is None:
            raise WasmcacheError(f"guest's {run_name} has no `run` function")
        self._run_index = func_index
        self._backend_given = backend  # for the run span: a URL names its scheme
        if isinstance(backend, str):
            check_url(backend)
        imports = frozenset(self.component.type.imports(self.engine))
        self._owns_backend = isinstance(backend, str)
        self._closed = False
        self.backend: Backend | None = None
        self._linker = Linker(self.engine)
        self._linker.add_wasip2()
        self._run_scope: RunScope = nullcontext
        if _host_needed(imports):
            self.backend = _open_backend(backend)
            try:
                self._run_scope = _link_host(self._linker, self.backend, self.options, imports)
            except BaseException:
                self.close()
                raise

    # --- running ----------------------------------------------------------------------------
    def run(self, args: Sequence[str] | None = None, *, stdin: bytes = b"",
            env: Mapping[str, str] | None = None, timeout: float | None = None,
            inherit_stdio: bool = False) -> RunResult:
        """Run ``wasi:cli/run`` once in a fresh instance and return its status and output.

        `args` become the guest's argv after its program name (default: the options' args);
        `stdin` is what it reads; `env` its environment (none unless given); `timeout` stops it
        after that many seconds (default: the options' timeout). `inherit_stdio` gives it this
        process's stdin, stdout and stderr instead (the CLI does), and the result's output is
        None. Safe to call from several threads at once. Raises `GuestTimeout`, `GuestTrap`
        (with the output captured until then as ``.stdout``/``.stderr``) or `WasmcacheError`.
        """
        if self._closed:
            raise WasmcacheError(f"guest {self.path}: already closed")
        options = self.options
        if timeout is None:
            timeout = options.timeout
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        store = Store(self.engine)
        store.set_epoch_deadline(NO_DEADLINE)
        if options.max_memory is not None:
            store.set_limits(memory_size=options.max_memory)
        wasi = WasiConfig()
        wasi.argv = [self.program_name, *(options.args if args is None else args)]
        if env is not None:
            wasi.env = list(env.items())
        if inherit_stdio:
            if stdin:
                raise ValueError("stdin bytes cannot be given with inherit_stdio=True")
            wasi.inherit_stdin()
            wasi.inherit_stdout()
            wasi.inherit_stderr()
            store.set_wasi(wasi)
            with self._spanned() as span, self._run_scope():
                return RunResult(span.exited(self._call_run(store, timeout)), None, None)
        output = _Output(wasi, stdin)
        try:
            store.set_wasi(wasi)
            with self._spanned() as span, self._run_scope():
                status = span.exited(self._call_run(store, timeout))
            stdout, stderr = output.read()
        except GuestTrap as exc:
            exc.stdout, exc.stderr = output.read()
            raise
        finally:
            output.close()  # after read() a no-op; on any other exception, no fd is left open
        return RunResult(status, stdout, stderr)

    def _spanned(self) -> AbstractContextManager[Any]:
        """The run's span when the options' observer has telemetry (else nothing happens)."""
        from .telemetry import guest_run

        return guest_run(self.path, self._backend_given, self.options)

    def _call_run(self, store: Store, timeout: float | None) -> int:
        try:
            instance = self._linker.instantiate(store, self.component)
        except WasmtimeError as exc:
            name = missing_import(str(exc))
            if name is not None:
                who = "guest or a cache component" if self.options.cache_components else "guest"
                raise WasmcacheError(
                    f"{who} imports {name}, which this host does not provide "
                    f"(it provides WASI 0.2, {CACHE_INTERFACE} and wasi:keyvalue/store, "
                    "atomics and batch @0.2.0-draft2)"
                ) from None
            raise GuestTrap(f"guest failed to start: {_first_line(exc)}"
                            f"{_memory_hint(self.options)}") from None
        func = instance.get_func(store, self._run_index)
        assert func is not None  # the component's type says it is there
        deadline = nullcontext() if timeout is None else ticker_for(self.engine).deadline(
            store, timeout)
        with deadline:
            try:
                result = func(store)
            except ExitTrap as exc:
                return exc.code
            except (Trap, WasmtimeError) as exc:
                cause = _first_line(exc)
                if timeout is not None and cause == INTERRUPT:
                    raise GuestTimeout(
                        f"guest stopped: it ran longer than its timeout of {timeout:g} s"
                    ) from None
                raise GuestTrap(f"guest trapped: {cause}{_memory_hint(self.options)}") from None
        if isinstance(result, Variant):
            return 0 if result.tag == "ok" else 1
        return 0

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the backend if this guest opened it; later runs raise `WasmcacheError`.

        Call it when no run is in progress (runs already started may fail once it is closed).
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_backend and self.backend is not None:
            self.backend.close()

    def __enter__(self) -> Guest:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
