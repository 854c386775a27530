"""The scheme table on disk, so that opening a backend imports only the plugin it needs.

Finding plugins the regular way (`plugins.build_registry`) scans every installed distribution's
entry points and imports every plugin: about 30 ms that `wasmcache run` would pay at every
start for one URL. The index written after such a full build maps each scheme to its plugin's
import target, and remembers what the build depended on:

* the Python and every ``sys.path`` entry with its modification time (installing, upgrading or
  removing a distribution adds or removes a ``*.dist-info`` directory, which changes it);
* ``WASMCACHE_DISABLE_PLUGINS``;
* size and modification time of every module file that the plugins' registration loaded.

While all of that is unchanged the index is trusted: a URL's scheme leads to one plugin,
imported and asked to register, and its `BackendSpec` opens the URL. Anything unexpected (a
plugin that no longer registers the scheme, an unreadable index) falls back to the full build,
which rewrites the index. A plugin that failed to load is tried again at each start, so its
one-line report stays. The file lives in the user cache directory, one per Python
installation (``~/.cache/wasmcache/plugins`` on Linux).
"""

from __future__ import annotations

import logging
import marshal
import os
import sys
import threading
import zlib
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from .backend import Backend, BackendSpec
from .plugins import (
    DISABLE_ENV,
    PluginRegistry,
    failure_line,
    get_registry,
    no_backend_error,
    open_spec,
    url_scheme,
)

log = logging.getLogger("wasmcache.plugins")

FORMAT = 1
HOOK = "wasmcache_register_backends"
KEEP = 16  # index files kept, one per environment


@dataclass(frozen=True)
class PluginIndex:
    """Scheme -> plugin, and how to import each plugin without scanning distributions."""

    schemes: dict[str, str]  # scheme -> plugin name
    targets: dict[str, str]  # plugin name -> "module" or "module:attr"
    failed: dict[str, tuple[str, str]]  # plugin name -> (target, distribution)

    def spec(self, scheme: str) -> BackendSpec | None:
        """The spec registered for `scheme` by its plugin, or None if it no longer is."""
        plugin = _load(self.targets[self.schemes[scheme]])
        hook = getattr(plugin, HOOK, None)
        if not callable(hook):
            return None
        specs: list[BackendSpec] = []
        hook(register=specs.append)
        return next((spec for spec in specs if scheme in spec.schemes), None)


def _load(target: str) -> Any:
    """What an entry point `module:attr.attr` (or a bare module name) names."""
    module_name, _, attrs = target.partition(":")
    obj: Any = import_module(module_name.strip())
    for attr in filter(None, attrs.strip().split(".")):
        obj = getattr(obj, attr)
    return obj


# ---- what the index depends on ----------------------------------------------------------------

def _environment() -> tuple[Any, ...]:
    """The Python, its import path (each entry's mtime) and the plugin switch.

    The current directory ('' for ``python -c`` and ``-m``) changes all the time, so for it
    the names of the distributions it holds stand in for its mtime.
    """
    entries: list[tuple[str, Any]] = []
    for entry in sys.path:
        try:
            if entry:
                entries.append((entry, os.stat(entry).st_mtime_ns))
            else:
                entries.append((entry, sorted(
                    e.name for e in os.scandir(".")
                    if e.name.endswith((".dist-info", ".egg-info", ".egg-link")))))
        except OSError:
            entries.append((entry, None))
    return (FORMAT, sys.version, sys.executable, tuple(entries), os.environ.get(DISABLE_ENV, ""))


def _stamp(path: str) -> tuple[str, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (path, st.st_size, st.st_mtime_ns)


def _plugin_files(targets: dict[str, str]) -> list[tuple[str, int, int]]:
    """Every loaded module file of each plugin's top-level package (the core's own plugins:
    just their module), with size and mtime."""
    prefixes = set()
    for target in targets.values():
        module = target.partition(":")[0].strip()
        prefixes.add(module if module.startswith("wasmcache.") else module.split(".")[0])
    stamps = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and any(name == p or name.startswith(p + ".") for p in prefixes):
            stamp = _stamp(path)
            if stamp is not None:
                stamps.append(stamp)
    return sorted(stamps)


def _index_file(environment: tuple[Any, ...]) -> Path:
    """One file per environment (a script's own directory is on sys.path too), so a console
    script and `python -c` in one virtual environment do not overwrite each other's index."""
    from .compile_cache import user_cache_root

    key = marshal.dumps(environment)
    return user_cache_root() / "plugins" / f"{zlib.crc32(key):08x}{zlib.adler32(key):08x}.marshal"


def _prune(directory: Path, keep: int = KEEP) -> None:
    """Remove all but the `keep` most recently written index files (environments come and
    go: every upgrade or temporary PYTHONPATH makes a new one)."""
    try:
        files = sorted(directory.glob("*.marshal"), key=lambda f: f.stat().st_mtime_ns)
        for old in files[:-keep]:
            old.unlink(missing_ok=True)
    except OSError:
        pass


# ---- reading and writing ------------------------------------------------------------------

def _read(path: Path, environment: tuple[Any, ...]) -> PluginIndex | None:
    try:
        data = marshal.loads(path.read_bytes())
        if data["environment"] != environment:
            return None
        if any(_stamp(stamp[0]) != tuple(stamp) for stamp in data["files"]):
            return None
        return PluginIndex(data["schemes"], data["targets"], data["failed"])
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None


def _from_registry(registry: PluginRegistry) -> PluginIndex:
    return PluginIndex(
        schemes={scheme: entry.plugin for scheme, entry in registry.backends.items()},
        targets={name: target for name, target in registry.targets.items()
                 if registry.pm.has_plugin(name)},
        failed={f.plugin: (registry.targets[f.plugin], f.distribution)
                for f in registry.failures if f.plugin in registry.targets},
    )


def _write(path: Path, environment: tuple[Any, ...], index: PluginIndex) -> None:
    data = {"environment": environment, "files": _plugin_files(index.targets),
            "schemes": index.schemes, "targets": index.targets, "failed": index.failed}
    try:
        import tempfile

        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(marshal.dumps(data))
        os.replace(tmp, path)  # atomic: a concurrent start reads the old index or the new one
    except (OSError, ValueError):
        return  # an unwritable cache only costs the next start a full build
    _prune(path.parent)


def _retry_failed(index: PluginIndex) -> bool:
    """Import the plugins that failed when the index was built; report those that still fail.

    False when one loads now: the index is stale.
    """
    for name, (target, dist) in index.failed.items():
        try:
            _load(target)
        except Exception as exc:  # noqa: BLE001 - the same report as a full build's
            log.warning("%s", failure_line(name, dist, f"{type(exc).__name__}: {exc}"))
            continue
        return False
    return True


_lock = threading.Lock()
_index: PluginIndex | None = None


def get_index() -> PluginIndex:
    """The process-wide index: read from disk when it still holds, else built and saved."""
    global _index
    with _lock:
        if _index is None:
            _index = _load_index(trust_disk=True)
        return _index


def _load_index(trust_disk: bool) -> PluginIndex:
    environment = _environment()
    path = _index_file(environment)
    if trust_disk:
        index = _read(path, environment)
        if index is not None and _retry_failed(index):
            return index
    registry = get_registry()
    for line in registry.failure_lines():
        log.warning("%s", line)
    index = _from_registry(registry)
    _write(path, environment, index)
    return index


def registered_schemes() -> set[str]:
    """Every scheme an installed (and not disabled) plugin serves."""
    return set(get_index().schemes)


def check_url(url: str) -> str:
    """`url`'s scheme, or the one-line error when no installed plugin serves it."""
    scheme = url_scheme(url)
    index = get_index()
    if scheme not in index.schemes:
        raise no_backend_error(scheme, url, index.schemes)
    return scheme


def open_backend(url: str) -> Backend:
    """Open `url` through the one plugin that serves its scheme."""
    global _index
    scheme = check_url(url)
    index = get_index()
    spec = index.spec(scheme)
    if spec is None:  # the plugin changed without its files showing it: rebuild in full
        with _lock:
            _index = _load_index(trust_disk=False)
        return get_registry().open(url)
    return open_spec(spec, f"plugin {index.schemes[scheme]}", url)
