"""Compiled-component cache: compile a .wasm once, then load Wasmtime's serialized artefact.

Keyed by the .wasm's SHA-256, the wasmtime version and the engine settings that change code
generation, in the user cache directory (platformdirs). ``WASMCACHE_COMPILE_CACHE=off``
turns it off; ``WASMCACHE_COMPILE_CACHE=/some/dir`` moves it.

So that a warm start need not read and hash an 18 MB guest again, a small *source record*
next to the artefacts remembers, per guest path and engine key, the digest and wasmtime
version last seen together with the file's size, modification time and inode; it is trusted
only while all of them are unchanged (and only for a file that was already a few seconds
old when it was hashed, so a file rewritten within one timestamp tick is never trusted).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from wasmtime import Engine, WasmtimeError
from wasmtime.component import Component

ENV = "WASMCACHE_COMPILE_CACHE"
#: a file modified this recently is hashed on every run (its mtime could still repeat)
RACY_SECONDS = 2.0
RECORDS = "sources"


ROOT_MARKER = "ROOT"  # in the cache root: the root's own path, as platformdirs gave it


def user_cache_root() -> Path:
    """wasmcache's directory in the user cache directory (``~/.cache/wasmcache`` on Linux).

    platformdirs decides it, but importing platformdirs costs a start-up about 6 ms; so on
    Linux the XDG answer is tried first and used when that directory holds the marker that
    platformdirs' own answer left there.
    """
    guess = _xdg_guess()
    if guess is not None:
        try:
            if (guess / ROOT_MARKER).read_text("utf-8") == str(guess):
                return guess
        except (OSError, UnicodeDecodeError):
            pass
    import platformdirs

    root = Path(platformdirs.user_cache_dir("wasmcache"))
    try:
        root.mkdir(parents=True, exist_ok=True)
        (root / ROOT_MARKER).write_text(str(root), "utf-8")
    except OSError:
        pass  # an unwritable cache only costs the next start platformdirs' import
    return root


def _xdg_guess() -> Path | None:
    if not sys.platform.startswith("linux"):
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.expanduser("~/.cache")
    return Path(base, "wasmcache") if os.path.isabs(base) else None


def cache_dir(setting: str | None = None) -> Path | None:
    """Where compiled components go, or None when caching is off."""
    value = os.environ.get(ENV, "") if setting is None else setting
    if value.lower() in ("off", "0", "false", "no"):
        return None
    if value and value.lower() not in ("on", "1", "true", "yes"):
        return Path(value)
    return user_cache_root() / "components"


def _wasmtime_version() -> str:
    import importlib.metadata

    return importlib.metadata.version("wasmtime")


def _artefact_name(digest: str, version: str, engine_key: str) -> str:
    return f"{digest}-wasmtime{version}-{engine_key}.cwasm"


def _artefact_path(directory: Path, wasm: bytes, engine_key: str) -> Path:
    import hashlib

    digest = hashlib.sha256(wasm).hexdigest()
    return directory / _artefact_name(digest, _wasmtime_version(), engine_key)


# ---- source records: trust a digest while the file is unchanged -------------------------

def _identity(st: os.stat_result) -> str:
    return f"{st.st_size} {st.st_mtime_ns} {st.st_ino} {st.st_dev}"


def _record_path(directory: Path, source: Path, engine_key: str) -> Path:
    import zlib

    name = f"{os.path.abspath(source)}\0{engine_key}".encode("utf-8", "surrogateescape")
    return directory / RECORDS / f"{zlib.crc32(name):08x}-{zlib.adler32(name):08x}"


def recorded_artefact(directory: Path, source: Path, engine_key: str) -> Path | None:
    """The artefact recorded for `source` if the file is unchanged since it was hashed."""
    try:
        st = os.stat(source)
        lines = _record_path(directory, source, engine_key).read_text("utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    if len(lines) < 3 or lines[0] != os.path.abspath(source) or lines[1] != _identity(st):
        return None
    return directory / lines[2]


def _write_record(directory: Path, source: Path, engine_key: str, artefact: Path,
                  st: os.stat_result) -> None:
    """Remember `artefact` for `source` as it was when read (stat `st`), unless it is too new."""
    import tempfile
    import time

    if time.time() - st.st_mtime_ns / 1e9 < RACY_SECONDS:
        return
    path = _record_path(directory, source, engine_key)
    text = f"{os.path.abspath(source)}\n{_identity(st)}\n{artefact.name}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)  # atomic: a concurrent run reads the old record or the new one
    except OSError:
        pass  # an unwritable cache only costs the next run a hash


def load_recorded(engine: Engine, source: Path, engine_key: str,
                  directory: Path) -> Component | None:
    """The cached compilation of `source` without reading it, when its record still holds."""
    artefact = recorded_artefact(directory, source, engine_key)
    if artefact is None:
        return None
    try:
        return Component.deserialize_file(engine, str(artefact))
    except WasmtimeError:
        return None  # gone, damaged or from another wasmtime: the caller hashes the file


# ---- compiling and loading -----------------------------------------------------------------

Inspect = Callable[[Component, Engine, bool], None]


def load_component(engine: Engine, wasm: bytes, engine_key: str,
                   directory: Path | None,
                   prepare: Callable[[bytes], bytes] | None = None,
                   inspect: Inspect | None = None,
                   source: tuple[Path, os.stat_result] | None = None) -> Component:
    """Compile `wasm`, or load its cached compilation; `engine_key` names the engine settings.

    `prepare` (e.g. the payload adapter's wrapper) transforms `wasm` before it is compiled; the
    cache is keyed on the unprepared bytes, so a warm start skips it, and `engine_key` must
    then also name what `prepare` does. ``inspect(component, engine, prepared)`` sees a freshly
    compiled component before it is cached and may raise to refuse it (only what passed is
    ever cached). `source` (the file `wasm` was read from and its stat taken before reading)
    writes the source record that lets the next run skip reading and hashing it. Raises
    `WasmtimeError` when `wasm` is not a valid component.
    """
    if directory is None:
        return _compile(engine, wasm, prepare, inspect, announce=False)
    path = _artefact_path(directory, wasm, engine_key)
    component = None
    if path.exists():
        try:
            component = Component.deserialize_file(engine, str(path))
        except WasmtimeError:
            path.unlink(missing_ok=True)  # stale or damaged: compile again below
    if component is None:
        component = _compile(engine, wasm, prepare, inspect, announce=True)
        _store(component, path)
    if source is not None and path.exists():
        _write_record(directory, source[0], engine_key, path, source[1])
    return component


def _compile(engine: Engine, wasm: bytes, prepare: Callable[[bytes], bytes] | None,
             inspect: Inspect | None, announce: bool) -> Component:
    prepared = prepare(wasm) if prepare is not None else wasm
    if announce and sys.stderr.isatty():
        print(f"wasmcache: compiling {len(prepared) / 1e6:.1f} MB component (cached for next "
              "time)...", file=sys.stderr, flush=True)
    component = Component(engine, prepared)
    if inspect is not None:
        inspect(component, engine, prepared is not wasm)
    return component


def _store(component: Component, path: Path) -> None:
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(component.serialize())
        os.replace(tmp, path)  # atomic: a concurrent run never reads half an artefact
    except OSError:
        pass  # an unwritable cache only costs the next run a compile
