"""``wasmcache.toml``: loading and validating the operator's configuration.

Validation happens at load time, before any guest starts: every problem is one line that names
the file, the key and what was expected.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import WasmcacheError
from .limits import DEFAULT_NAMESPACE, NAMESPACE_PATTERN, Limits

DEFAULT_CONFIG_FILE = "wasmcache.toml"
BACKEND_ENV = "WASMCACHE_BACKEND"
DEFAULT_BACKEND = "disk://.wasmcache"


class ConfigError(WasmcacheError):
    """A configuration problem; the message names the file and the key."""


@dataclass(frozen=True)
class Config:
    """The effective configuration after file, environment and flags are merged."""

    backend: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    limits: Limits = field(default_factory=Limits)
    source: str | None = None


_TOP_KEYS = {"backend": str, "namespace": str, "limits": dict}
_LIMIT_KEYS = {"max_key_bytes": int, "max_value_bytes": int}


def _type_name(expected: type) -> str:
    return {str: "a string", int: "an integer", dict: "a table", bool: "true or false",
            list: "an array"}[expected]


def _check_table(source: str, prefix: str, table: dict[str, Any],
                 schema: dict[str, type]) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if key not in schema:
            allowed = ", ".join(sorted(schema))
            raise ConfigError(f"{source}: unknown key {name!r} (expected one of: {allowed})")
        expected = schema[key]
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ConfigError(
                f"{source}: {name} must be {_type_name(expected)}, not {type(value).__name__}"
            )


def parse_config(data: dict[str, Any], source: str) -> Config:
    """Validate a parsed TOML document."""
    _check_table(source, "", data, _TOP_KEYS)
    backend = data.get("backend")
    if backend is not None and "://" not in backend:
        raise ConfigError(f"{source}: backend must be a URL like redis://host:6379/0, "
                          f"not {backend!r}")
    namespace = data.get("namespace", DEFAULT_NAMESPACE)
    if not NAMESPACE_PATTERN.fullmatch(namespace):
        raise ConfigError(f"{source}: namespace {namespace!r} must be 1-64 of A-Z a-z 0-9 . _ -")
    limits_table = data.get("limits", {})
    _check_table(source, "limits.", limits_table, _LIMIT_KEYS)
    try:
        limits = Limits(**limits_table)
    except WasmcacheError as exc:
        raise ConfigError(f"{source}: limits: {exc}") from None
    return Config(backend=backend, namespace=namespace, limits=limits, source=source)


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load `path`, or ./wasmcache.toml when it exists, or the defaults."""
    if path is None:
        candidate = Path(DEFAULT_CONFIG_FILE)
        if not candidate.is_file():
            return Config()
        path = candidate
    source = os.fspath(path)
    try:
        with open(source, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source)


def resolve_backend(flag: str | None, config: Config, registered_schemes: set[str]) -> str:
    """--backend, then $WASMCACHE_BACKEND, then the config file, then the embedded default."""
    for candidate in (flag, os.environ.get(BACKEND_ENV) or None, config.backend):
        if candidate:
            return candidate
    if "disk" in registered_schemes:
        return DEFAULT_BACKEND
    raise WasmcacheError(
        "no backend configured and the embedded default is not installed: pass --backend URL "
        f"(e.g. --backend memory://), set {BACKEND_ENV}, put `backend = \"...\"` in "
        f"{DEFAULT_CONFIG_FILE}, or `pip install wasmcache-disk`"
    )
