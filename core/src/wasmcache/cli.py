"""The ``wasmcache`` command line: one argparse parser for every command.

A guest started from a shell or a script pays the host's start-up every time, so the command
line is built on the standard library's argparse (a few milliseconds to import, where click
took a third of the start-up budget) and each command imports only what it uses: ``run`` finds
its backend's plugin through `plugin_index` without loading the others, and an unchanged guest
is not hashed again (compile_cache). A mistake on the command line is one line,
``wasmcache: error: ...``, and exit 2, like every other mistake (README, exit statuses).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from .errors import WasmcacheError

if TYPE_CHECKING:
    from .config import Config
    from .runner import GuestOptions

EXIT_USAGE = 2  # bad flags, config, guest file or backend URL
EXIT_TRAP = 3  # the guest trapped or was stopped
LOG_FORMAT = "wasmcache: %(levelname)s: %(message)s"
ERROR_PREFIX = "wasmcache: error: "


def error_line(message: str) -> str:
    """``wasmcache: error: MESSAGE`` as one line whatever the message quotes: a line break or
    other control character a user typed (a URL with a NEL, say) is shown escaped."""
    shown = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                    for ch in message)
    return ERROR_PREFIX + shown


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(error_line(message), file=sys.stderr, flush=True)
    sys.exit(code)


# --- the parser ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse with the README's promise: a usage mistake is one line and exit 2."""

    def error(self, message: str) -> NoReturn:
        _fail(f"{message} (see `{self.prog} --help`)")


def _seconds(text: str) -> float:
    """A finite, positive number of seconds (`wasmcache.config.seconds_problem`)."""
    from .config import seconds_problem

    try:
        number = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    problem = seconds_problem(number)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return number


def _file(text: str) -> str:
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a directory, not a file")
    return text


class _Version(argparse.Action):
    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(_version_text())
        parser.exit()


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """The options `run` and `config show` share: they decide the backend and the options."""
    parser.add_argument("-b", "--backend", metavar="URL",
                        help="backend URL (memory://, disk://DIR, redis://..., sqlite:///...)")
    parser.add_argument("-n", "--namespace", metavar="NS",
                        help="the guest's namespace [default: its profile's, else default]")
    parser.add_argument("-g", "--guest", dest="guest_name", metavar="NAME",
                        help="guest profile from the config (wins over a `wasm` path match)")
    parser.add_argument("--config", dest="config_path", metavar="FILE", type=_file,
                        help="config file [default: ./wasmcache.toml if present]")
    parser.add_argument("--timeout", metavar="SECONDS", type=_seconds,
                        help="stop the guest after this long")
    parser.add_argument("--max-memory", metavar="SIZE",
                        help="cap the guest's memory (e.g. 64MiB)")
    parser.add_argument("--cache-component", dest="cache_components", metavar="IMPL.wasm",
                        action="append", type=_file, default=[],
                        help="a component exporting wasmcache:cache/cache that serves the "
                             "guest's cache instead of the host; repeat to layer them (each "
                             "served by the next, the last by --backend) [default: its "
                             "profile's]")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (building it takes about a millisecond)."""
    parser = _Parser(prog="wasmcache", allow_abbrev=False,
                     description="wasmcache: a cache host for WebAssembly components.")
    parser.add_argument("--version", action=_Version, nargs=0,
                        help="show the core's and every backend's version")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser(
        "run", allow_abbrev=False, help="run GUEST.wasm's wasi:cli/run with the cache",
        description="Run GUEST.wasm's wasi:cli/run with the cache; ARGS become its argv. "
                    "Exit status: the guest's own (0 ok, 1 when run returns err or exits with "
                    "err); 2 for a bad flag, config, guest file or backend; 3 when the guest "
                    "traps or is stopped.")
    _add_run_options(run)
    run.add_argument("--stats", action="store_true",
                     help="print per-operation statistics when the guest ends")
    run.add_argument("guest_and_args", metavar="GUEST.wasm [ARGS ...]", nargs=argparse.REMAINDER,
                     help="the guest, then its argv after its name (everything after "
                          "GUEST.wasm belongs to the guest)")
    run.set_defaults(handler=_run, parser=run)

    config = commands.add_parser("config", allow_abbrev=False,
                                 help="check or show the configuration")
    config_commands = config.add_subparsers(dest="config_command", metavar="COMMAND",
                                            parser_class=_Parser, required=True)
    check = config_commands.add_parser(
        "check", allow_abbrev=False,
        help="validate FILE (default ./wasmcache.toml) without running anything")
    check.add_argument("file", metavar="FILE", nargs="?")
    check.add_argument("--connect", action="store_true",
                       help="also open the backend and check it once (login, TLS, database), "
                            "as `run` does before a guest starts; exit 1 if it cannot be "
                            "reached now")
    check.set_defaults(handler=_config_check)
    show = config_commands.add_parser(
        "show", allow_abbrev=False,
        help="print the effective configuration (flags > environment > file), passwords "
             "masked")
    _add_run_options(show)
    show.add_argument("guest", metavar="GUEST.wasm", nargs="?")
    show.set_defaults(handler=_config_show)

    backends = commands.add_parser(
        "backends", allow_abbrev=False,
        help="list installed backends: scheme, distribution, version, capabilities",
        description="List installed backends. CAPABILITIES, as each plugin declares them "
                    "(docs/backends.md): check (refuses a misconfiguration before a run), "
                    "usage (quotas shared across hosts), incr, cas, mget, mset, mdel, list "
                    "(native wasi:keyvalue), describe (telemetry); '-' when the core's "
                    "generic fallbacks serve all of them. Plugins that failed to load are "
                    "listed after the table, by name, with their error.")
    backends.set_defaults(handler=_backends)
    return parser


def configure_logging(verbose: int) -> None:
    """Warnings by default, -v info, -vv debug; every line prefixed ``wasmcache:``."""
    import logging

    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format=LOG_FORMAT)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script."""
    parser = build_parser()
    namespace = parser.parse_args(argv)
    if namespace.command is None:
        parser.print_help()
        sys.exit(EXIT_USAGE)
    configure_logging(namespace.verbose)
    try:
        code = namespace.handler(namespace)
    except KeyboardInterrupt:
        print("Aborted!", file=sys.stderr)
        code = 1
    sys.exit(code)


# --- run ----------------------------------------------------------------------------------


def effective(config: Config, flags: argparse.Namespace,
              wasm: str | None) -> tuple[str, GuestOptions]:
    """Merge flags, environment and file (flags win) into the backend URL and guest options."""
    from .config import parse_size, resolve_backend
    from .limits import validate_namespace
    from .plugin_index import registered_schemes
    from .runner import GuestOptions

    profile = config.select_profile(flags.guest_name, wasm)
    url = resolve_backend(flags.backend, config, registered_schemes())
    options = GuestOptions(
        namespace=validate_namespace(flags.namespace if flags.namespace is not None
                                     else profile.namespace),
        limits=profile.limits,
        policy=profile.policy,
        timeout=flags.timeout if flags.timeout is not None else profile.timeout,
        max_memory=(parse_size(flags.max_memory) if flags.max_memory is not None
                    else profile.max_memory),
        buckets=profile.buckets,
        keys_per_page=profile.keys_per_page,
        cache_components=tuple(flags.cache_components) or profile.cache_components,
        profile=profile.name,
    )
    return url, options


def guest_and_argv(flags: argparse.Namespace) -> tuple[str, list[str]]:
    """GUEST.wasm and the guest's own argv: everything after GUEST.wasm, as it was typed."""
    given = flags.guest_and_args
    if given[:1] == ["--"]:  # `run [OPTIONS] -- GUEST.wasm ...`
        given = given[1:]
    if not given:
        flags.parser.error("the following arguments are required: GUEST.wasm")
    return given[0], given[1:]


def _keep_large_buffers() -> None:
    """Have glibc keep the memory of large payload buffers instead of mapping and unmapping
    each: a 1 MiB value is copied through a few buffers of its size per call, and every
    mmap / page faults / munmap round (glibc's default for blocks past its threshold) cost a
    1 MiB get about a third of its time (bench.versus). The price is that the process keeps its
    peak memory until it ends, which suits a one-run process; an embedder's process is not
    ours to tune, so `Guest` leaves this alone. Nothing happens without glibc's ``mallopt``."""
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    mallopt(m_mmap_threshold, 64 << 20)
    mallopt(m_trim_threshold, 128 << 20)
    mallopt(m_top_pad, 16 << 20)


def _run(flags: argparse.Namespace) -> int:
    """``wasmcache run``: the guest's exit status (see README's table)."""
    flags.guest, flags.args = guest_and_argv(flags)
    _keep_large_buffers()
    from .config import load_config
    from .observe import combine
    from .runner import GuestTrap, run_guest
    from .telemetry import exporting

    collector = None
    if flags.stats:
        from .stats import Stats

        collector = Stats()
    try:
        config = load_config(flags.config_path)
        url, options = effective(config, flags, flags.guest)
        options.args = tuple(flags.args)
        with exporting() as telemetry:  # OTEL_* variables (docs/observability.md); else None
            options.observer = combine(collector, telemetry)
            code = run_guest(flags.guest, url, options)
    except GuestTrap as exc:
        code = _report(str(exc), EXIT_TRAP)
    except WasmcacheError as exc:
        code = _report(str(exc), EXIT_USAGE)
    sys.stdout.flush()
    if collector is not None and code != EXIT_USAGE:  # refused before the guest: nothing to show
        print(collector.render(), file=sys.stderr, flush=True)
    return code


def _report(message: str, code: int) -> int:
    """Print a one-line error; returns the exit status to end with."""
    print(error_line(message), file=sys.stderr, flush=True)
    return code


# --- config -------------------------------------------------------------------------------


def _config_check(flags: argparse.Namespace) -> int:
    """``wasmcache config check [FILE] [--connect]``."""
    from .config import load_config, resolve_backend
    from .plugins import get_registry, mask_url, open_backend
    from .preflight import check_backend

    reachable = True
    try:
        loaded = load_config(flags.file or "wasmcache.toml")
        if loaded.backend:
            get_registry().lookup(loaded.backend)
        if loaded.password is not None:
            loaded.password.read()  # present and non-empty; never printed
        if flags.connect:
            url = resolve_backend(None, loaded, set(get_registry().backends))
            backend = open_backend(url)
            try:
                reachable = check_backend(backend)
            finally:
                backend.close()
    except WasmcacheError as exc:
        _fail(str(exc))
    summary = f"{loaded.source}: ok ({len(loaded.guests)} guest profiles)"
    if flags.connect:
        summary += f"; backend {mask_url(url)}: {'ok' if reachable else 'unreachable now'}"
    print(summary)
    return 0 if reachable else 1


def _config_show(flags: argparse.Namespace) -> int:
    """``wasmcache config show``: the effective configuration, passwords masked."""
    from .config import load_config
    from .credentials import from_environment
    from .plugins import mask_url

    try:
        loaded = load_config(flags.config_path)
        url, options = effective(loaded, flags, flags.guest)
        profile = loaded.select_profile(flags.guest_name, flags.guest)
    except WasmcacheError as exc:
        _fail(str(exc))
    policy = options.policy
    password = from_environment() or loaded.password
    lines = [
        f"# config file: {loaded.source or '(none)'}",
        f"# guest profile: {profile.name}",
        f'backend = "{mask_url(url)}"',
        *([f"# backend password: from {password.describe()} ({password.origin})"]
          if password else []),
        f'namespace = "{options.namespace}"',
        f'access = "{policy.access.value}"',
        "key_prefixes = [" + ", ".join(f'"{p}"' for p in policy.key_prefixes) + "]",
        f"max_keys = {'unlimited' if policy.max_keys is None else policy.max_keys}",
        f"max_bytes = {'unlimited' if policy.max_bytes is None else policy.max_bytes}",
        f"max_key_bytes = {options.limits.max_key_bytes}",
        f"max_value_bytes = {options.limits.max_value_bytes}",
        f"timeout = {'none' if options.timeout is None else options.timeout}",
        f"max_memory = {'none' if options.max_memory is None else options.max_memory}",
        "buckets = [" + ", ".join(f'"{b}"' for b in ("default", *options.buckets)) + "]",
        f"keys_per_page = {options.keys_per_page}",
        "cache_components = [" + ", ".join(f'"{c}"' for c in options.cache_components) + "]",
    ]
    print("\n".join(lines))
    return 0


# --- backends and --version ---------------------------------------------------------------


def _backends(_flags: argparse.Namespace) -> int:
    """``wasmcache backends``: the table, then plugins that failed to load."""
    from .capabilities import SHORT_NAMES
    from .plugins import get_registry

    registry = get_registry()
    rows = [("SCHEME", "DISTRIBUTION", "VERSION", "CAPABILITIES", "DESCRIPTION")]
    for scheme, entry in sorted(registry.backends.items()):
        declared = ",".join(SHORT_NAMES[name] for name in entry.spec.capabilities
                            if name in SHORT_NAMES) or "-"
        rows.append((f"{scheme}://", entry.distribution, entry.version, declared,
                     entry.spec.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        print("  ".join([*cells, row[4]]).rstrip())
    for line in registry.failure_lines():
        print(f"wasmcache: WARNING: {line}", file=sys.stderr)
    for problem in registry.conflicts:
        print(f"wasmcache: WARNING: {problem}", file=sys.stderr)
    return 0


def _version_text() -> str:
    import importlib.metadata

    from .plugins import get_registry

    lines = [f"wasmcache {importlib.metadata.version('wasmcache')}"]
    seen = set()
    for _name, dist, version in get_registry().plugins():
        if dist != "wasmcache" and dist not in seen:
            seen.add(dist)
            lines.append(f"{dist} {version}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
