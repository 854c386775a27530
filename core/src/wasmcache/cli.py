"""The ``wasmcache`` command line."""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from typing import NoReturn

import click

from .capabilities import SHORT_NAMES
from .config import load_config
from .console import (
    EXIT_USAGE,
    RUN_FLAGS,
    Flag,
    RunRequest,
    configure_logging,
    effective,
    execute,
)
from .errors import WasmcacheError
from .plugins import get_registry, mask_url


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"wasmcache: error: {message}", err=True)
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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True,
              callback=_print_version, help="Show the core and every backend's version.")
@click.option("-v", "--verbose", count=True, help="Log more (-v info, -vv debug).")
def main(verbose: int) -> None:
    """wasmcache: a cache host for WebAssembly components."""
    configure_logging(verbose)


def _click_option(flag: Flag):  # type: ignore[no-untyped-def]
    if flag.kind == "flag":
        return click.option(*flag.names, flag.dest, is_flag=True, help=flag.help)
    kind = {"seconds": click.FloatRange(min=0, min_open=True),
            "file": click.Path(dir_okay=False),
            "files": click.Path(dir_okay=False)}.get(flag.kind)
    return click.option(*flag.names, flag.dest, type=kind, metavar=flag.metavar, help=flag.help,
                        multiple=flag.kind == "files")


def run_options(func, run_only: bool = False):  # type: ignore[no-untyped-def]
    """The options of `wasmcache run` (all, with run_only) or `config show`, from RUN_FLAGS."""
    for flag in reversed(RUN_FLAGS):
        if run_only or not flag.run_only:
            func = _click_option(flag)(func)
    return func


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@functools.partial(run_options, run_only=True)
@click.argument("guest", metavar="GUEST.wasm")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, guest: str, args: tuple[str, ...], **flags: object) -> None:
    """Run GUEST.wasm's wasi:cli/run with the cache; ARGS become its argv.

    Exit status: the guest's own (0 ok, 1 when run returns err or exits with err);
    2 for a bad flag, config, guest file or backend; 3 when the guest traps or is stopped.
    """
    verbose = ctx.parent.params["verbose"] if ctx.parent else 0
    sys.exit(execute(RunRequest(guest=guest, args=args, verbose=verbose,
                                **flags)))  # type: ignore[arg-type]


@main.group()
def config() -> None:
    """Check or show the configuration."""


@config.command("check")
@click.argument("file", required=False, metavar="[FILE]")
def config_check(file: str | None) -> None:
    """Validate FILE (default ./wasmcache.toml) without running anything."""
    try:
        loaded = load_config(file or "wasmcache.toml")
        if loaded.backend:
            get_registry().lookup(loaded.backend)
    except WasmcacheError as exc:
        _fail(str(exc))
    click.echo(f"{loaded.source}: ok ({len(loaded.guests)} guest profiles)")


@config.command("show")
@run_options
@click.argument("guest", required=False, metavar="[GUEST.wasm]")
def config_show(backend: str | None, namespace: str | None, guest_name: str | None,
                config_path: str | None, timeout: float | None, max_memory: str | None,
                cache_components: tuple[str, ...], guest: str | None) -> None:
    """Print the effective configuration (flags > environment > file), passwords masked."""
    try:
        loaded = load_config(config_path)
        url, options = effective(loaded, backend, namespace, guest_name, guest, timeout,
                                 max_memory, cache_components)
        profile = loaded.select_profile(guest_name, guest)
    except WasmcacheError as exc:
        _fail(str(exc))
    policy = options.policy
    lines = [
        f"# config file: {loaded.source or '(none)'}",
        f"# guest profile: {profile.name}",
        f'backend = "{mask_url(url)}"',
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
    click.echo("\n".join(lines))


@main.command()
def backends() -> None:
    """List installed backends: scheme, distribution, version, optional capabilities.

    CAPABILITIES, as each plugin declares them (docs/backends.md): usage (quotas shared across
    hosts), incr, cas, mget, mset, mdel, list (native wasi:keyvalue); "-" when the core's
    generic fallbacks serve all of them. Plugins that failed to load are listed after the
    table, by name, with their error.
    """
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
        click.echo("  ".join([*cells, row[4]]).rstrip())
    for line in registry.failure_lines():
        click.echo(f"wasmcache: WARNING: {line}", err=True)
    for problem in registry.conflicts:
        click.echo(f"warning: {problem}", err=True)


if __name__ == "__main__":
    main()
