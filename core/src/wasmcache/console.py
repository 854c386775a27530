"""The ``wasmcache`` console script, and its ``run`` command without click.

A guest started from a shell or a script pays the host's start-up every time, so
``wasmcache run`` does only what the run needs: a well-formed ``run`` command line is parsed
here (importing click costs about 15 ms, a third of the whole budget), the backend's plugin is
found through `plugin_index` without loading the others, and an unchanged guest is not hashed
again (compile_cache). Anything else, including every mistake and ``--help``, goes to the
click command line in `wasmcache.cli`, which reports it as it always did; the run itself is
`execute` either way. `RUN_FLAGS` describes ``run``'s options once, for both parsers.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import WasmcacheError

if TYPE_CHECKING:
    from .config import Config
    from .runner import GuestOptions

EXIT_USAGE = 2  # bad flags, config, guest file or backend URL
EXIT_TRAP = 3  # the guest trapped or was stopped
LOG_FORMAT = "wasmcache: %(levelname)s: %(message)s"


@dataclass(frozen=True)
class Flag:
    """One option of ``wasmcache run`` (and of ``config show`` unless `run_only`).

    `kind`: "flag" (no value), "text", "seconds" (a number > 0), "file" (not a directory) or
    "files" (a file, repeatable).
    """

    dest: str
    names: tuple[str, ...]
    help: str
    metavar: str | None = None
    kind: str = "text"
    run_only: bool = False


RUN_FLAGS = (
    Flag("backend", ("--backend", "-b"),
         "Backend URL (memory://, disk://DIR, redis://..., sqlite:///...).", "URL"),
    Flag("namespace", ("--namespace", "-n"),
         "The guest's namespace [default: its profile's, else default].", "NS"),
    Flag("guest_name", ("--guest", "-g"),
         "Guest profile from the config (wins over a `wasm` path match).", "NAME"),
    Flag("config_path", ("--config",), "Config file [default: ./wasmcache.toml if present].",
         "FILE", kind="file"),
    Flag("timeout", ("--timeout",), "Stop the guest after this long.", "SECONDS",
         kind="seconds"),
    Flag("max_memory", ("--max-memory",), "Cap the guest's memory (e.g. 64MiB).", "SIZE"),
    Flag("cache_components", ("--cache-component",),
         "A component exporting wasmcache:cache/cache that serves the guest's cache instead of "
         "the host; repeat to layer them (each served by the next, the last by --backend) "
         "[default: its profile's].", "IMPL.wasm", kind="files"),
    Flag("stats", ("--stats",), "Print per-operation statistics when the guest ends.",
         kind="flag", run_only=True),
)
_BY_NAME = {name: flag for flag in RUN_FLAGS for name in flag.names}


@dataclass
class RunRequest:
    """A parsed ``wasmcache run`` command line."""

    guest: str
    args: tuple[str, ...] = ()
    verbose: int = 0
    backend: str | None = None
    namespace: str | None = None
    guest_name: str | None = None
    config_path: str | None = None
    timeout: float | None = None
    max_memory: str | None = None
    cache_components: tuple[str, ...] = ()
    stats: bool = False


def parse_run(argv: Sequence[str]) -> RunRequest | None:
    """`argv` (without the program) as a `RunRequest`, or None for anything but a plain run.

    Accepts ``[-v...|--verbose]... run [OPTION VALUE | --OPTION=VALUE | --stats]... GUEST
    [ARGS...]`` with values click would accept; None sends the line to click, which runs it
    the same way or reports the mistake.
    """
    verbose, position = 0, 0
    while position < len(argv) and argv[position] != "run":
        token = argv[position]
        if token == "--verbose":
            verbose += 1
        elif len(token) > 1 and token.strip("v") == "-":
            verbose += len(token) - 1
        else:
            return None
        position += 1
    values: dict[str, object] = {}
    position += 1
    while position < len(argv) and argv[position].startswith("-"):
        name, has_value, value = argv[position].partition("=")
        flag = _BY_NAME.get(name)
        if flag is None or (has_value and (flag.kind == "flag" or not name.startswith("--"))):
            return None  # --help, an unknown option, "--", -bURL...: click decides
        if flag.kind == "flag":
            values[flag.dest] = True
        else:
            if not has_value:
                position += 1
                if position == len(argv) or argv[position].startswith("-"):
                    return None
                value = argv[position]
            checked = _checked(flag, value)
            if checked is None:
                return None  # click words the complaint
            if flag.kind == "files":
                values[flag.dest] = (*values.get(flag.dest, ()), checked)  # type: ignore[misc]
            else:
                values[flag.dest] = checked
        position += 1
    if position >= len(argv):
        return None  # no GUEST.wasm: click says so
    return RunRequest(guest=argv[position], args=tuple(argv[position + 1:]),
                      verbose=min(verbose, 2), **values)  # type: ignore[arg-type]


def _checked(flag: Flag, value: str) -> object | None:
    """`value` as click would convert it for `flag`, or None where click would refuse it."""
    if flag.kind == "seconds":
        try:
            seconds = float(value)
        except ValueError:
            return None
        return seconds if seconds > 0 else None  # NaN is not > 0 either
    if flag.kind in ("file", "files") and os.path.isdir(value):
        return None
    return value


def configure_logging(verbose: int) -> None:
    """Warnings by default, -v info, -vv debug; every line prefixed ``wasmcache:``."""
    import logging

    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format=LOG_FORMAT)


def effective(config: Config, backend: str | None, namespace: str | None,
              guest_name: str | None, wasm: str | None, timeout: float | None,
              max_memory: str | None, cache_components: tuple[str, ...] = ()
              ) -> tuple[str, GuestOptions]:
    """Merge flags, environment and file (flags win) into the backend URL and guest options."""
    from .config import parse_size, resolve_backend
    from .limits import validate_namespace
    from .plugin_index import registered_schemes
    from .runner import GuestOptions

    if timeout is not None and not timeout > 0:  # click's FloatRange lets NaN through
        raise WasmcacheError(f"invalid timeout {timeout!r}: expected a positive number of "
                             "seconds")
    profile = config.select_profile(guest_name, wasm)
    url = resolve_backend(backend, config, registered_schemes())
    options = GuestOptions(
        namespace=validate_namespace(namespace if namespace is not None else profile.namespace),
        limits=profile.limits,
        policy=profile.policy,
        timeout=timeout if timeout is not None else profile.timeout,
        max_memory=parse_size(max_memory) if max_memory is not None else profile.max_memory,
        buckets=profile.buckets,
        keys_per_page=profile.keys_per_page,
        cache_components=cache_components or profile.cache_components,
        profile=profile.name,
    )
    return url, options


def report(message: str, code: int) -> int:
    """Print a one-line error; returns the exit status to end with."""
    print(f"wasmcache: error: {message}", file=sys.stderr, flush=True)
    return code


def execute(request: RunRequest) -> int:
    """Run the guest as ``wasmcache run`` does; its exit status (see README's table)."""
    from .config import load_config
    from .runner import GuestTrap, run_guest

    collector = None
    if request.stats:
        from .stats import Stats

        collector = Stats()
    try:
        config = load_config(request.config_path)
        url, options = effective(config, request.backend, request.namespace,
                                 request.guest_name, request.guest, request.timeout,
                                 request.max_memory, request.cache_components)
        options.args = request.args
        from .observe import combine
        from .telemetry import exporting

        with exporting() as telemetry:  # OTEL_* variables (docs/observability.md); else None
            options.observer = combine(collector, telemetry)
            code = run_guest(request.guest, url, options)
    except GuestTrap as exc:
        code = report(str(exc), EXIT_TRAP)
    except WasmcacheError as exc:
        code = report(str(exc), EXIT_USAGE)
    sys.stdout.flush()
    if collector is not None:
        print(collector.render(), file=sys.stderr, flush=True)
    return code


def main() -> None:
    """The console script: a plain ``run`` straight to `execute`, the rest through click."""
    request = parse_run(sys.argv[1:])
    if request is None:
        from .cli import main as click_main

        click_main()
        return
    configure_logging(request.verbose)
    try:
        code = execute(request)
    except KeyboardInterrupt:  # as click reports it
        print("Aborted!", file=sys.stderr)
        code = 1
    sys.exit(code)
