"""Finding backends: the pluggy plugin manager and the table of URL schemes.

Plugins come from the ``wasmcache`` entry-point group plus the built-in ones below. A plugin
that fails to import is reported once, by name, and the others keep working; a plugin can be
switched off without uninstalling it through ``WASMCACHE_DISABLE_PLUGINS=name,name``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from .backend import Backend, BackendSpec
from .capabilities import CAPABILITIES
from .credentials import ambiguous_userinfo, mask_url, redact
from .errors import WasmcacheError
from .preflight import check_backend

if TYPE_CHECKING:
    import pluggy

ENTRY_POINT_GROUP = "wasmcache"
DISABLE_ENV = "WASMCACHE_DISABLE_PLUGINS"
DEFAULT_PLUGINS = ("wasmcache.backends.memory",)

#: Which distribution serves the schemes of this repository, for the "pip install" hint.
KNOWN_SCHEMES = {
    "disk": "wasmcache-disk",
    "redis": "wasmcache-redis",
    "rediss": "wasmcache-redis",
    "unix": "wasmcache-redis",
    "redis+cluster": "wasmcache-redis",
    "rediss+cluster": "wasmcache-redis",
    "sqlite": "wasmcache-sql",
    "postgresql": "'wasmcache-sql[postgresql]'",
    "mysql": "'wasmcache-sql[mysql]'",
    "mariadb": "'wasmcache-sql[mysql]'",
}


@dataclass(frozen=True)
class RegisteredBackend:
    """A `BackendSpec` with where it came from, for ``wasmcache backends``."""

    spec: BackendSpec
    plugin: str
    distribution: str
    version: str


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    distribution: str
    error: str


class PluginRegistry:
    """The loaded plugins and the scheme table they registered."""

    def __init__(self, pm: pluggy.PluginManager, failures: list[PluginFailure],
                 dists: dict[str, tuple[str, str]],
                 targets: dict[str, str] | None = None) -> None:
        self.pm = pm
        self.failures = failures
        self._dists = dists
        #: plugin name -> what to import for it ("module" or "module:attr"), for plugin_index
        self.targets = targets or {}
        self.backends: dict[str, RegisteredBackend] = {}
        self.conflicts: list[str] = []
        for impl in pm.hook.wasmcache_register_backends.get_hookimpls():
            dist, version = dists.get(impl.plugin_name, ("wasmcache", _version("wasmcache")))
            specs: list[BackendSpec] = []
            impl.function(register=specs.append)
            for spec in specs:
                unknown = [word for word in spec.capabilities if word not in CAPABILITIES]
                if unknown:
                    self.conflicts.append(
                        f"{dist} declares unknown capabilities {', '.join(unknown)} for "
                        f"{', '.join(spec.schemes)} (known: {', '.join(CAPABILITIES)})")
                for scheme in spec.schemes:
                    entry = RegisteredBackend(spec, impl.plugin_name, dist, version)
                    if scheme in self.backends:
                        self.conflicts.append(
                            f"scheme {scheme!r} is registered by both "
                            f"{self.backends[scheme].distribution} and {dist}"
                        )
                        continue
                    self.backends[scheme] = entry

    def plugins(self) -> list[tuple[str, str, str]]:
        """(plugin name, distribution, version) of every registered plugin."""
        out = []
        for name, _plugin in self.pm.list_name_plugin():
            dist, version = self._dists.get(name, ("wasmcache", _version("wasmcache")))
            out.append((name, dist, version))
        return out

    def failure_lines(self) -> list[str]:
        """One line per plugin that failed to load: its name, distribution and error."""
        return [failure_line(f.plugin, f.distribution, f.error) for f in self.failures]

    def lookup(self, url: str) -> RegisteredBackend:
        """The backend serving `url`, or a one-line error that says what to install."""
        scheme = url_scheme(url)
        found = self.backends.get(scheme)
        if found is not None:
            return found
        raise no_backend_error(scheme, url, self.backends)

    def open(self, url: str) -> Backend:
        """Open a backend for `url` through the plugin that serves its scheme."""
        entry = self.lookup(url)
        return open_spec(entry.spec, entry.distribution, url)


def open_spec(spec: BackendSpec, owner: str, url: str) -> Backend:
    """Open `url` with `spec`, the one way every backend is opened.

    An opener reports a bad URL as a one-line `WasmcacheError`; anything else it raises (a
    client library's ValueError on a URL it cannot parse, say) is turned into one here, naming
    `owner` (the distribution or plugin), so a bad URL never ends in a traceback. Either way
    the URL's secrets are redacted.
    """
    if ambiguous_userinfo(url):
        raise WasmcacheError(
            f"the backend URL {mask_url(url)} seems to hold a password with a reserved "
            "character: percent-encode it (/ is %2F, ? is %3F, # is %23, @ is %40, "
            ": is %3A)")
    try:
        return spec.open(url)
    except WasmcacheError as exc:
        message = redact(str(exc), url)
        if message == str(exc):
            raise
        raise type(exc)(message) if _plain(exc) else WasmcacheError(message) from None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        detail = redact(" ".join(str(exc).split()), url)
        raise WasmcacheError(f"cannot open {mask_url(url)} ({owner}): "
                             f"{type(exc).__name__}: {detail}") from None


def failure_line(plugin: str, distribution: str, error: str) -> str:
    """How a plugin that failed to load is reported (`wasmcache backends`, `wasmcache run`)."""
    return f"plugin {plugin!r} ({distribution}) failed to load: {error}"


def no_backend_error(scheme: str, url: str, installed: Iterable[str]) -> WasmcacheError:
    """The one-line error for a scheme no installed plugin serves: what to install, if known."""
    hint = KNOWN_SCHEMES.get(scheme) or KNOWN_SCHEMES.get(scheme.split("+", 1)[0])
    known = ", ".join(sorted(installed)) or "none"
    if hint:
        return WasmcacheError(
            f"no installed backend serves {scheme}:// URLs: install it with "
            f"`pip install {hint}` (installed schemes: {known})"
        )
    return WasmcacheError(
        f"unknown backend scheme {scheme!r} in {mask_url(url)!r}: installed schemes are "
        f"{known}; `wasmcache backends` lists them"
    )


def url_scheme(url: str) -> str:
    if "://" not in url:
        raise WasmcacheError(
            f"invalid backend URL {mask_url(url)!r}: expected SCHEME://..., e.g. memory:// "
            "or redis://127.0.0.1:6379/0"
        )
    return url.split("://", 1)[0].lower()


def _plain(exc: WasmcacheError) -> bool:
    """True when ``type(exc)(message)`` rebuilds `exc` (a subclass with the base signature)."""
    return type(exc).__init__ is WasmcacheError.__init__


def _version(dist: str) -> str:
    import importlib.metadata  # not at import: it costs `wasmcache run` 20 ms

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def disabled_plugins() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def build_registry() -> PluginRegistry:
    """Load built-in and entry-point plugins into a fresh registry (no caching)."""
    import importlib.metadata  # these three only here: `wasmcache run` reads plugin_index

    import pluggy

    from . import hookspecs

    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in disabled_plugins():
        pm.set_blocked(name)
    targets: dict[str, str] = {}
    for module_name in DEFAULT_PLUGINS:
        short = module_name.rsplit(".", 1)[1]
        if not pm.is_blocked(short):
            pm.register(importlib.import_module(module_name), name=short)
            targets[short] = module_name
    failures: list[PluginFailure] = []
    dists: dict[str, tuple[str, str]] = {}
    for dist in importlib.metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP or pm.is_blocked(ep.name) or pm.has_plugin(ep.name):
                continue
            dist_name = dist.metadata["Name"]
            targets[ep.name] = ep.value
            try:
                plugin: ModuleType = ep.load()
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the rest
                failures.append(PluginFailure(ep.name, dist_name, f"{type(exc).__name__}: {exc}"))
                continue
            pm.register(plugin, name=ep.name)
            dists[ep.name] = (dist_name, dist.version)
    pm.check_pending()
    return PluginRegistry(pm, failures, dists, targets)


@functools.lru_cache(maxsize=1)
def get_registry() -> PluginRegistry:
    """The process-wide registry, loaded once."""
    return build_registry()


def open_backend(url: str, *, check: bool = False) -> Backend:
    """Open the backend for `url`, importing only the plugin that serves its scheme.

    The scheme table comes from `plugin_index` (kept on disk, rebuilt with every plugin loaded
    when the installed distributions change). With `check`, contact the store once
    (`wasmcache.preflight.check_backend`): a misconfiguration raises `BackendMisconfigured`
    (and the backend is closed), an unreachable store is logged and the backend returned.
    """
    from .plugin_index import open_backend as open_indexed

    backend = open_indexed(url)
    if check:
        try:
            check_backend(backend)
        except BaseException:
            backend.close()
            raise
    return backend
