"""The ``wasmcache`` command line."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
from typing import NoReturn

import click

from .cli_support import OneLineErrors, Seconds, error_line
from .config import Config, load_config, parse_size, resolve_backend
from .credentials import from_environment
from .errors import WasmcacheError
from .keyvalue.capabilities import SHORT_NAMES, spec_capabilities
from .limits import validate_namespace
from .plugins import get_registry, mask_url, open_backend
from .preflight import check_backend
from .runner import GuestOptions, GuestTrap, run_guest
from .stats import Stats

EXIT_USAGE = 2  # bad flags, config, guest file or backend URL
EXIT_TRAP = 3  # the guest trapped or was stopped


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(error_line(message), err=True)
    sys.exit(code)


def _version_text() -> str:
    registry = get_registry()
    lines = [f"wasmcache {importlib.metadata.version('wasmcache')}"]
    seen = set()
    for _name, dist, version in registry.plugins():
        if dist != "wasmcache" and dist not in seen:
            seen.add(dist)
            lines.append(f"{dist} {version}")
    return "\n".join(lines)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_version_text())
        ctx.exit()


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the core and every backend's version.")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def main(verbose: int) -> None:
    """wasmcache: a cache host for WebAssembly components."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="wasmcache: %(levelname)s: %(message)s")


def _effective(config: Config, backend: str | None, namespace: str | None,
               guest_name: str | None, wasm: str | None, timeout: float | None,
               max_memory: str | None) -> tuple[str, GuestOptions]:
    """Merge flags, environment and file (flags win) into the backend URL and guest options."""
    profile = config.select_profile(guest_name, wasm)
    url = resolve_backend(backend, config, set(get_registry().backends))
    options = GuestOptions(
        namespace=validate_namespace(namespace if namespace is not None else profile.namespace),
        limits=profile.limits,
        policy=profile.policy,
        timeout=timeout if timeout is not None else profile.timeout,
        max_memory=parse_size(max_memory) if max_memory is not None else profile.max_memory,
        buckets=profile.buckets,
        keys_per_page=profile.keys_per_page,
    )
    return url, options


_run_options = [
    click.option("--backend", "-b", metavar="URL",
                 help="Backend URL (memory://, disk://DIR, redis://..., sqlite:///...)."),
    click.option("--namespace", "-n", metavar="NS",
                 help="The guest's namespace [default: its profile's, else default]."),
    click.option("--guest", "-g", "guest_name", metavar="NAME",
                 help="Guest profile from the config (wins over a `wasm` path match)."),
    click.option("--config", "config_path", metavar="FILE", type=click.Path(dir_okay=False),
                 help="Config file [default: ./wasmcache.toml if present]."),
    click.option("--timeout", type=Seconds(), metavar="SECONDS",
                 help="Stop the guest after this long."),
    click.option("--max-memory", metavar="SIZE", help="Cap the guest's memory (e.g. 64MiB)."),
]


def run_options(func):  # type: ignore[no-untyped-def]
    for option in reversed(_run_options):
        func = option(func)
    return func


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@run_options
@click.option("--stats", is_flag=True, help="Print per-operation statistics when the guest ends.")
@click.argument("guest", metavar="GUEST.wasm")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(backend: str | None, namespace: str | None, guest_name: str | None,
        config_path: str | None, timeout: float | None, max_memory: str | None, stats: bool,
        guest: str, args: tuple[str, ...]) -> None:
    """Run GUEST.wasm's wasi:cli/run with the cache; ARGS become its argv.

    Exit status: the guest's own (0 ok, 1 when run returns err or exits with err);
    2 for a bad flag, config, guest file or backend; 3 when the guest traps or is stopped.
    """
    collector = Stats() if stats else None
    try:
        config = load_config(config_path)
        url, options = _effective(config, backend, namespace, guest_name, guest, timeout,
                                  max_memory)
        options.args = args
        options.stats = collector
        code = run_guest(guest, url, options)
    except GuestTrap as exc:
        code = _report(str(exc), EXIT_TRAP)
    except WasmcacheError as exc:
        code = _report(str(exc), EXIT_USAGE)
    sys.stdout.flush()
    if collector is not None and code != EXIT_USAGE:  # refused before the guest: nothing to show
        click.echo(collector.render(), err=True)
    sys.exit(code)


def _report(message: str, code: int) -> int:
    click.echo(error_line(message), err=True)
    return code


@main.group()
def config() -> None:
    """Check or show the configuration."""


@config.command("check")
@click.argument("file", required=False, metavar="[FILE]")
@click.option("--connect", is_flag=True,
              help="Also open the backend and check it once (login, TLS, database), as `run` "
                   "does before a guest starts. Exit 1 if it cannot be reached now.")
def config_check(file: str | None, connect: bool) -> None:
    """Validate FILE (default ./wasmcache.toml) without running anything."""
    reachable = True
    try:
        loaded = load_config(file or "wasmcache.toml")
        if loaded.backend:
            get_registry().lookup(loaded.backend)
        if loaded.password is not None:
            loaded.password.read()  # present and non-empty; never printed
        if connect:
            url = resolve_backend(None, loaded, set(get_registry().backends))
            backend = open_backend(url)
            try:
                reachable = check_backend(backend)
            finally:
                backend.close()
    except WasmcacheError as exc:
        _fail(str(exc))
    summary = f"{loaded.source}: ok ({len(loaded.guests)} guest profiles)"
    if connect:
        summary += f"; backend {mask_url(url)}: {'ok' if reachable else 'unreachable now'}"
    click.echo(summary)
    sys.exit(0 if reachable else 1)


@config.command("show")
@run_options
@click.argument("guest", required=False, metavar="[GUEST.wasm]")
def config_show(backend: str | None, namespace: str | None, guest_name: str | None,
                config_path: str | None, timeout: float | None, max_memory: str | None,
                guest: str | None) -> None:
    """Print the effective configuration (flags > environment > file), passwords masked."""
    try:
        loaded = load_config(config_path)
        url, options = _effective(loaded, backend, namespace, guest_name, guest, timeout,
                                  max_memory)
        profile = loaded.select_profile(guest_name, guest)
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
    ]
    click.echo("\n".join(lines))


@main.command()
def backends() -> None:
    """List installed backends: scheme, distribution, version, native wasi:keyvalue capabilities.

    NATIVE-KV: incr, cas, mget, mset, mdel, list (docs/keyvalue.md); "-" when the core's
    generic fallbacks serve all of them, "?" when the opener's return type does not say.
    """
    registry = get_registry()
    rows = [("SCHEME", "DISTRIBUTION", "VERSION", "NATIVE-KV", "DESCRIPTION")]
    for scheme, entry in sorted(registry.backends.items()):
        native = spec_capabilities(entry.spec.open)
        kv = "?" if native is None else ",".join(SHORT_NAMES[n] for n in native) or "-"
        rows.append((f"{scheme}://", entry.distribution, entry.version, kv,
                     entry.spec.description))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        click.echo("  ".join([*cells, row[4]]).rstrip())
    # a plugin that failed to import was already reported once, by name, when it was loaded
    for conflict in registry.conflicts:
        click.echo(f"warning: {conflict}", err=True)


if __name__ == "__main__":
    main()
