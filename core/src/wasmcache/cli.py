"""The ``wasmcache`` command line."""

from __future__ import annotations

import importlib.metadata
import logging
import sys
from typing import NoReturn

import click

from .config import load_config, resolve_backend
from .errors import WasmcacheError
from .limits import validate_namespace
from .plugins import get_registry
from .runner import GuestOptions, GuestTrap, run_guest

EXIT_USAGE = 2  # bad flags, config, guest file or backend URL
EXIT_TRAP = 3  # the guest trapped or was stopped


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
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="wasmcache: %(levelname)s: %(message)s")


@main.command(context_settings={"ignore_unknown_options": True,
                                "allow_interspersed_args": False})
@click.option("--backend", "-b", metavar="URL",
              help="Backend URL (memory://, disk://DIR, redis://..., sqlite:///...).")
@click.option("--namespace", "-n", metavar="NS", help="The guest's namespace [default: default].")
@click.option("--config", "config_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Config file [default: ./wasmcache.toml if present].")
@click.argument("guest", metavar="GUEST.wasm")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(backend: str | None, namespace: str | None, config_path: str | None, guest: str,
        args: tuple[str, ...]) -> None:
    """Run GUEST.wasm's wasi:cli/run with the cache; ARGS become its argv.

    Exit status: the guest's own (0 ok, 1 when run returns err, N on exit(N));
    2 for a bad flag, config, guest file or backend; 3 when the guest traps.
    """
    try:
        config = load_config(config_path)
        url = resolve_backend(backend, config, set(get_registry().backends))
        ns = validate_namespace(namespace if namespace is not None else config.namespace)
        options = GuestOptions(namespace=ns, limits=config.limits, args=args)
        code = run_guest(guest, url, options)
    except GuestTrap as exc:
        _fail(str(exc), EXIT_TRAP)
    except WasmcacheError as exc:
        _fail(str(exc))
    sys.stdout.flush()
    sys.exit(code)


@main.command()
def backends() -> None:
    """List installed backends: scheme, distribution, version."""
    registry = get_registry()
    rows = [("SCHEME", "DISTRIBUTION", "VERSION", "DESCRIPTION")]
    for scheme, entry in sorted(registry.backends.items()):
        rows.append((f"{scheme}://", entry.distribution, entry.version, entry.spec.description))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        click.echo("  ".join([*cells, row[3]]).rstrip())
    for failure in registry.failures:
        click.echo(f"plugin {failure.plugin!r} ({failure.distribution}) failed to load: "
                   f"{failure.error}", err=True)
    for conflict in registry.conflicts:
        click.echo(f"warning: {conflict}", err=True)


if __name__ == "__main__":
    main()
