"""Compiled-component cache: compile a .wasm once, then load Wasmtime's serialized artefact.

Keyed by the .wasm's SHA-256, the wasmtime version and the engine settings that change code
generation, in the user cache directory (platformdirs). ``WASMCACHE_COMPILE_CACHE=off``
turns it off; ``WASMCACHE_COMPILE_CACHE=/some/dir`` moves it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import platformdirs
from wasmtime import Engine, WasmtimeError
from wasmtime.component import Component

ENV = "WASMCACHE_COMPILE_CACHE"


def cache_dir(setting: str | None = None) -> Path | None:
    """Where compiled components go, or None when caching is off."""
    value = os.environ.get(ENV, "") if setting is None else setting
    if value.lower() in ("off", "0", "false", "no"):
        return None
    if value and value.lower() not in ("on", "1", "true", "yes"):
        return Path(value)
    return Path(platformdirs.user_cache_dir("wasmcache")) / "components"


def _artefact_path(directory: Path, wasm: bytes, engine_key: str) -> Path:
    digest = hashlib.sha256(wasm).hexdigest()
    version = importlib.metadata.version("wasmtime")
    return directory / f"{digest}-wasmtime{version}-{engine_key}.cwasm"


Inspect = Callable[[Component, Engine, bool], None]


def load_component(engine: Engine, wasm: bytes, engine_key: str,
                   directory: Path | None,
                   prepare: Callable[[bytes], bytes] | None = None,
                   inspect: Inspect | None = None) -> Component:
    """Compile `wasm`, or load its cached compilation; `engine_key` names the engine settings.

    `prepare` (e.g. the payload adapter's wrapper) transforms `wasm` before it is compiled; the
    cache is keyed on the unprepared bytes, so a warm start skips it, and `engine_key` must
    then also name what `prepare` does. ``inspect(component, engine, prepared)`` sees a freshly
    compiled component before it is cached and may raise to refuse it (only what passed is
    ever cached). Raises `WasmtimeError` when `wasm` is not a valid component.
    """
    path = None if directory is None else _artefact_path(directory, wasm, engine_key)
    if path is not None and path.exists():
        try:
            return Component.deserialize_file(engine, str(path))
        except WasmtimeError:
            path.unlink(missing_ok=True)  # stale or damaged: compile again below
    prepared = prepare(wasm) if prepare is not None else wasm
    if path is not None and sys.stderr.isatty():
        print(f"wasmcache: compiling {len(prepared) / 1e6:.1f} MB component (cached for next "
              "time)...", file=sys.stderr, flush=True)
    component = Component(engine, prepared)
    if inspect is not None:
        inspect(component, engine, prepared is not wasm)
    if path is None or directory is None:
        return component
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(component.serialize())
        os.replace(tmp, path)  # atomic: a concurrent run never reads half an artefact
    except OSError:
        pass  # an unwritable cache only costs the next run a compile
    return component
