"""``wasmcache.toml``: loading and validating the operator's configuration and guest profiles.

Validation happens at load time, before any guest starts: every problem is one line that names
the file, the key and what was expected. Example::

    backend = "redis://127.0.0.1:6379/0"
    backend_password_file = "/run/secrets/redis"   # or backend_password_env = "NAME"
    namespace = "default"          # for guests that match no profile
    timeout = 30                   # seconds a guest may run (epoch interruption)
    max_memory = "256MiB"          # cap on a guest's linear memory

    [limits]
    max_key_bytes = 250
    max_value_bytes = 1048576

    [guests.writer]
    wasm = "guests/writer*.wasm"   # picked for a matching .wasm path (--guest NAME wins)
    namespace = "shop"
    access = "read-write"          # read-write | read-only | none
    key_prefixes = ["cart:"]
    buckets = ["orders"]           # wasi:keyvalue buckets besides "default" (docs/keyvalue.md)
    keys_per_page = 100            # most keys in one wasi:keyvalue list-keys page
    cache_components = ["lru.wasm"]  # serve its cache from these components (--cache-component)
    max_keys = 1000
    max_bytes = 10_000_000
    max_value_bytes = 65536

    [guests.reader]
    namespace = "shop"
    access = "read-only"
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .buckets import DEFAULT_BUCKET, DEFAULT_PAGE_SIZE, bucket_problem
from .credentials import ENV_NAME, PasswordSource, from_environment, with_password
from .errors import WasmcacheError
from .limits import DEFAULT_NAMESPACE, NAMESPACE_PATTERN, Limits
from .policy import Access, Policy

DEFAULT_CONFIG_FILE = "wasmcache.toml"
BACKEND_ENV = "WASMCACHE_BACKEND"
DEFAULT_BACKEND = "disk://.wasmcache"
PROFILE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
SIZE = r"(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?"  # compiled on first use (1.5 ms at start-up)
UNITS = {"b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
#: Longest --timeout / timeout (about 31 years): a finite number a timer thread can wait.
MAX_SECONDS = 1e9
#: Largest --max-memory / max_memory: what Wasmtime's store limiter takes (a signed 64-bit int).
MAX_SIZE = 2**63 - 1


def seconds_problem(value: float) -> str | None:
    """Why `value` is not a usable timeout in seconds (NaN, infinite, <= 0, too long), or None."""
    if not math.isfinite(value) or value <= 0:
        return f"expected a positive number of seconds, got {value!r}"
    if value > MAX_SECONDS:
        return f"expected at most {MAX_SECONDS:g} seconds, got {value!r}"
    return None


def size_problem(value: int) -> str | None:
    """Why `value` is not a usable memory size in bytes (0, too large), or None."""
    if not 0 < value <= MAX_SIZE:
        return f"expected a size from 1 byte to {MAX_SIZE} bytes, got {value}"
    return None


class ConfigError(WasmcacheError):
    """A configuration problem; the message names the file and the key."""


@dataclass(frozen=True)
class GuestProfile:
    """What the operator decided for one guest."""

    name: str
    namespace: str = DEFAULT_NAMESPACE
    policy: Policy = field(default_factory=Policy)
    limits: Limits = field(default_factory=Limits)
    wasm: str | None = None
    timeout: float | None = None
    max_memory: int | None = None
    buckets: tuple[str, ...] = ()
    keys_per_page: int = DEFAULT_PAGE_SIZE
    #: --cache-component files, relative to the config file's folder already resolved
    cache_components: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    """The effective configuration after file, environment and flags are merged."""

    backend: str | None = None
    namespace: str = DEFAULT_NAMESPACE
    limits: Limits = field(default_factory=Limits)
    timeout: float | None = None
    max_memory: int | None = None
    guests: dict[str, GuestProfile] = field(default_factory=dict)
    source: str | None = None
    #: where the backend's password is (`backend_password_file` / `_env`); never the password
    password: PasswordSource | None = None

    def default_profile(self) -> GuestProfile:
        return GuestProfile(name="(default)", namespace=self.namespace, limits=self.limits,
                            timeout=self.timeout, max_memory=self.max_memory)

    def select_profile(self, name: str | None, wasm_path: str | None) -> GuestProfile:
        """--guest NAME wins; else the first profile whose `wasm` glob matches; else the default."""
        if name is not None:
            if name not in self.guests:
                known = ", ".join(sorted(self.guests)) or "none"
                raise ConfigError(f"{self.source or 'config'}: no guest profile {name!r} "
                                  f"(profiles: {known})")
            return self.guests[name]
        if wasm_path is not None:
            candidates = {wasm_path, os.path.abspath(wasm_path), os.path.basename(wasm_path)}
            for profile in self.guests.values():
                if profile.wasm and any(fnmatch.fnmatchcase(c, profile.wasm) for c in candidates):
                    return profile
        return self.default_profile()


class _Reader:
    """Typed access to one TOML table that reports problems as `file: key: expected ...`."""

    def __init__(self, source: str, prefix: str, table: dict[str, Any], allowed: set[str]):
        self.source, self.prefix, self.table = source, prefix, table
        for key in table:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                raise self.error(key, f"unknown key (expected one of: {expected})")

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.prefix}{key}: {message}")

    def get(self, key: str, kind: type, what: str) -> Any:
        value = self.table.get(key)
        if value is None:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(key, f"expected {what}, got {type(value).__name__} {value!r}")
        return value

    def count(self, key: str) -> int | None:
        value = self.get(key, int, "a non-negative integer")
        if value is not None and value < 0:
            raise self.error(key, f"expected a non-negative integer, got {value}")
        return value

    def namespace(self, key: str, default: str) -> str:
        value = self.get(key, str, "a string") or default
        if not NAMESPACE_PATTERN.fullmatch(value):
            raise self.error(key, f"expected 1-64 of A-Z a-z 0-9 . _ -, got {value!r}")
        return value

    def size(self, key: str) -> int | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            size = value
        else:
            match = _size_match(value) if isinstance(value, str) else None
            if not match:
                raise self.error(key, "expected a size like 268435456 or \"256MiB\", "
                                      f"got {value!r}")
            size = int(match.group(1)) * UNITS[(match.group(2) or "b").lower()]
        problem = size_problem(size)
        if problem:
            raise self.error(key, problem)
        return size

    def seconds(self, key: str) -> float | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a positive number of seconds, got {value!r}")
        problem = seconds_problem(float(value))
        if problem:
            raise self.error(key, problem)
        return float(value)

    def password(self) -> PasswordSource | None:
        """`backend_password_file` or `backend_password_env` (not both); not read yet."""
        path = self.get("backend_password_file", str, "a file name")
        name = self.get("backend_password_env", str, "an environment variable's name")
        if path is not None and name is not None:
            raise self.error("backend_password_env", "give backend_password_file or "
                                                     "backend_password_env, not both")
        if path is not None:
            if not path:
                raise self.error("backend_password_file", "expected a file name, got \"\"")
            full = Path(self.source).parent / path  # relative to the config file
            return PasswordSource("file", os.fspath(full),
                                  f"{self.source}: backend_password_file")
        if name is not None:
            if not ENV_NAME.fullmatch(name):
                raise self.error("backend_password_env",
                                 f"expected an environment variable's name, got {name!r}")
            return PasswordSource("env", name, f"{self.source}: backend_password_env")
        return None

    def limits(self, base: Limits) -> Limits:
        key_bytes, value_bytes = self.count("max_key_bytes"), self.count("max_value_bytes")
        if key_bytes == 0:
            raise self.error("max_key_bytes", "expected at least 1, got 0")
        return Limits(max_key_bytes=base.max_key_bytes if key_bytes is None else key_bytes,
                      max_value_bytes=base.max_value_bytes if value_bytes is None else value_bytes)


_TOP = {"backend", "backend_password_file", "backend_password_env", "namespace", "limits",
        "timeout", "max_memory", "guests"}
_LIMITS = {"max_key_bytes", "max_value_bytes"}
_PROFILE = {"wasm", "namespace", "access", "key_prefixes", "max_keys", "max_bytes",
            "timeout", "max_memory", "buckets", "keys_per_page", "cache_components"} | _LIMITS
MAX_KEYS_PER_PAGE = 10_000


def parse_config(data: dict[str, Any], source: str) -> Config:
    """Validate a parsed TOML document into a `Config`."""
    top = _Reader(source, "", data, _TOP)
    backend = top.get("backend", str, "a URL string like \"redis://host:6379/0\"")
    if backend is not None and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", backend):
        raise top.error("backend", f"expected a URL like redis://host:6379/0, got {backend!r}")
    limits_table = top.get("limits", dict, "a table") or {}
    limits = _Reader(source, "limits.", limits_table, _LIMITS).limits(Limits())
    config = Config(backend=backend, namespace=top.namespace("namespace", DEFAULT_NAMESPACE),
                    limits=limits, timeout=top.seconds("timeout"),
                    max_memory=top.size("max_memory"), source=source,
                    password=top.password())
    guests: dict[str, GuestProfile] = {}
    for name, table in (top.get("guests", dict, "a table of profiles") or {}).items():
        if not isinstance(table, dict):
            raise top.error(f"guests.{name}", "expected a table")
        if not PROFILE_NAME.fullmatch(name):
            raise top.error(f"guests.{name}", "expected a profile name of A-Z a-z 0-9 . _ -")
        guests[name] = _parse_profile(_Reader(source, f"guests.{name}.", table, _PROFILE),
                                      name, config)
    return replace(config, guests=guests)


def _parse_profile(reader: _Reader, name: str, config: Config) -> GuestProfile:
    access_text = reader.get("access", str, "\"read-write\", \"read-only\" or \"none\"")
    try:
        access = Access(access_text or Access.READ_WRITE)
    except ValueError:
        raise reader.error("access", "expected \"read-write\", \"read-only\" or \"none\", "
                                     f"got {access_text!r}") from None
    prefixes = reader.get("key_prefixes", list, "an array of strings") or []
    if not all(isinstance(p, str) and p for p in prefixes):
        raise reader.error("key_prefixes", "expected an array of non-empty strings")
    policy = Policy(access=access, key_prefixes=tuple(prefixes),
                    max_keys=reader.count("max_keys"), max_bytes=reader.count("max_bytes"))
    namespace = reader.namespace("namespace", config.namespace)
    keys_per_page = reader.count("keys_per_page")
    if keys_per_page is not None and not 1 <= keys_per_page <= MAX_KEYS_PER_PAGE:
        raise reader.error("keys_per_page", f"expected 1 to {MAX_KEYS_PER_PAGE}, "
                                            f"got {keys_per_page}")
    return GuestProfile(
        name=name, namespace=namespace, policy=policy,
        limits=reader.limits(config.limits), wasm=reader.get("wasm", str, "a path or glob"),
        timeout=reader.seconds("timeout") or config.timeout,
        max_memory=reader.size("max_memory") or config.max_memory,
        buckets=_buckets(reader, namespace),
        keys_per_page=DEFAULT_PAGE_SIZE if keys_per_page is None else keys_per_page,
        cache_components=_cache_components(reader),
    )


def _cache_components(reader: _Reader) -> tuple[str, ...]:
    """A profile's cache component paths, relative to the config file's folder."""
    paths = reader.get("cache_components", list, "an array of .wasm paths") or []
    if not all(isinstance(path, str) and path for path in paths):
        raise reader.error("cache_components", "expected an array of non-empty .wasm paths")
    folder = Path(reader.source).parent
    return tuple(os.path.normpath(folder / path) for path in paths)


def _buckets(reader: _Reader, namespace: str) -> tuple[str, ...]:
    """The wasi:keyvalue buckets a profile allows besides the default one."""
    names = reader.get("buckets", list, "an array of bucket names") or []
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str):
            raise reader.error("buckets", f"expected an array of bucket names, got {name!r}")
        problem = bucket_problem(namespace, name)
        if problem:
            raise reader.error("buckets", problem)
        if name in seen:
            raise reader.error("buckets", f"bucket {name!r} is listed twice")
        seen.add(name)
    return tuple(name for name in names if name != DEFAULT_BUCKET)


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load `path`, or ./wasmcache.toml when it exists, or the defaults."""
    if path is None:
        candidate = Path(DEFAULT_CONFIG_FILE)
        if not candidate.is_file():
            return Config()
        path = candidate
    source = os.fspath(path)
    import tomllib  # only when there is a file: it costs `wasmcache run` 5 ms otherwise

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
    """--backend, then $WASMCACHE_BACKEND, then the config file, then the embedded default;
    with the password of $WASMCACHE_BACKEND_PASSWORD[_FILE] or the config's source spliced in
    (`wasmcache.credentials`)."""
    if flag is not None and not flag.strip():
        raise WasmcacheError("--backend is empty: give a backend URL such as memory:// or "
                             "redis://127.0.0.1:6379/0 (or leave the flag out)")
    url = _chosen_backend(flag, config, registered_schemes)
    source = from_environment() or config.password
    return url if source is None else with_password(url, source)


def _chosen_backend(flag: str | None, config: Config, registered_schemes: set[str]) -> str:
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


def _size_match(text: str) -> re.Match[str] | None:
    return re.fullmatch(SIZE, text.strip(), re.IGNORECASE)  # re caches the compiled pattern


def parse_size(text: str) -> int:
    """A --max-memory value: bytes, or a number with B/KB/KiB/MB/MiB/GB/GiB."""
    match = _size_match(text)
    if not match:
        raise WasmcacheError(f"invalid size {text!r}: expected e.g. 67108864 or 64MiB")
    size = int(match.group(1)) * UNITS[(match.group(2) or "b").lower()]
    problem = size_problem(size)
    if problem:
        raise WasmcacheError(f"invalid size {text!r}: {problem}")
    return size
