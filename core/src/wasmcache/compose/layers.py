"""Cache components: a guest's ``wasmcache:cache/cache`` import served by other components, composed
with it inside WebAssembly (``wasmcache run --cache-component IMPL.wasm ...``).

`load_composed` is the one step the runner calls. It reads and checks every cache component, and
compiles (or loads from the compile cache, keyed by every input's hash and `LAYERS_VERSION`) one
wrapper component, built in pure Python by `compose`::

    guest --cache--> layer 1 --cache--> layer 2 ... --cache--> payload adapter --> host session
      \\______________\\_________________\\___ WASI, wasi:keyvalue: the host's, one set for all

The wrapper imports the union of all their imports (`prefix.merge_prefixes`: a shared import
such as ``wasi:io/streams`` once, so every component reaches the same host instance in the
same store, with the guest's WASI context), nests every component unchanged, instantiates the
last layer first and hands each one's ``wasmcache:cache/cache@0.1.0`` export to the one above;
the guest's exports are re-exported. A layer that imports the cache interface itself is served
by the next layer, or, for the last, by the payload adapter and the host (the guest's
`GuestSession`: its namespace, limits, policy). A guest call to a layer never enters Python.

Each layer's export is checked against the interface's exact type (``error``, ``payload``,
``set``, ``get``, ``delete``) by Wasmtime's own validator: the wrapper instantiates a tiny probe
component importing exactly that type, named ``cache-component-N``, with it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from wasmtime import Engine, WasmtimeError, wat2wasm
from wasmtime.component import Component

from .. import compile_cache
from ..errors import WasmcacheError, first_line
from ..wire.cache import PAYLOAD_INTERFACE
from ..wire.names import CACHE_INTERFACE
from .adapter import _ENUM, adapter_wat, private_instance_type_wat
from .nest import (
    ALIAS,
    COMPONENT,
    COMPONENT_HEADER,
    CUSTOM,
    EXPORT,
    IMPORT,
    INSTANCE,
    TYPE,
    PrivateImport,
    Unsupported,
    _adapter_parts,
    _enc_string,
    _leb,
    _section,
    _sections,
    _uleb,
    _vec_section,
    refuse_private_imports,
)
from .prefix import (
    COMPONENT as COMPONENT_SORT,
)
from .prefix import (
    INSTANCE as INSTANCE_SORT,
)
from .prefix import (
    TYPE_SORT,
    Merged,
    Prefix,
    Sort,
    _externdesc,
    _Walker,
    merge_prefixes,
    read_prefix,
)

# Bump whenever the wrapper `compose` builds changes: it is part of the compile cache's key.
LAYERS_VERSION = "1"
MARKER = "wasmcache-cache-components"
PROBE_IMPORT = "cache-component-{}"
_PROBE_FAILED = re.compile(r"cache-component-(\d+)")


class GuestWithoutCache(WasmcacheError):
    """--cache-component was given for a guest that does not import the cache interface."""


class LayerError(WasmcacheError):
    """A cache component cannot serve the cache interface; the message names its file."""


@dataclass(frozen=True)
class CacheComponent:
    """One --cache-component file, read and checked."""

    path: str
    wasm: bytes
    prefix: Prefix

    @property
    def imports_cache(self) -> bool:
        return self.prefix.imported(CACHE_INTERFACE) is not None

    def error(self, problem: str) -> LayerError:
        return LayerError(f"cache component {self.path}: {problem}")


def _exports(wasm: bytes) -> list[tuple[str, Sort, bool]]:
    """The top-level exports of a component: name, sort, and whether it has a type
    ascription."""
    found = []
    for section_id, start, _end in _sections(wasm):
        if section_id != EXPORT:
            continue
        count, pos = _leb(wasm, start)
        for _ in range(count):
            w = _Walker(wasm, pos)
            name = w.name()
            sort = w.sort()
            w.u32()
            ascribed = w.byte() == 0x01
            if ascribed:
                _externdesc(w, 0)
            found.append((name, sort, ascribed))
            pos = w.pos
    return found


def load_composed(engine: Engine, guest_path: str, wasm: bytes,
                  components: Sequence[str | os.PathLike[str]], engine_key: str,
                  directory: Path | None) -> Component:
    """The guest `wasm` (read from `guest_path`) composed with the cache `components` (the
    first serves the guest), compiled, or loaded from the compile cache: keyed by the guest's
    hash, `engine_key` (which must name the payload adapter's version), `LAYERS_VERSION` and
    every component's hash in order. Every problem is one `WasmcacheError` line naming the
    file it is about."""
    layers = [read_cache_component(path) for path in components]
    digest = hashlib.sha256()
    for layer in layers:
        digest.update(hashlib.sha256(layer.wasm).digest())
    key = f"{engine_key}-layers{LAYERS_VERSION}-{digest.hexdigest()[:32]}"
    try:
        return compile_cache.load_component(engine, wasm, key, directory,
                                            prepare=lambda guest: compose(guest, layers))
    except WasmtimeError as exc:
        failed = _PROBE_FAILED.search(str(exc))
        if failed and 0 < int(failed.group(1)) <= len(layers):
            raise layers[int(failed.group(1)) - 1].error(
                f"its {CACHE_INTERFACE} export does not have the interface's exact signatures: "
                f"{_mismatch(exc)}") from None
        raise WasmcacheError(f"{guest_path}: cannot be composed with its cache components: "
                             f"{first_line(exc)}") from None
    except LayerError:
        raise
    except WasmcacheError as exc:
        raise WasmcacheError(f"{guest_path}: {exc}") from None


def _mismatch(exc: WasmtimeError) -> str:
    """Wasmtime's chain of reasons for a probe's failed import, as one line."""
    text = str(exc).split("Caused by:", 1)[-1]
    reasons = [re.sub(r"\s*\(at offset 0x[0-9a-f]+\)$", "", line.strip())
               for line in text.splitlines() if line.strip()]
    reasons = [r for r in reasons if not _PROBE_FAILED.search(r)]
    return ": ".join(reasons) or first_line(exc)


def read_cache_component(path: str | os.PathLike[str]) -> CacheComponent:
    """Read `path` and check it can serve the cache interface; one-line `WasmcacheError`s."""
    label = os.fspath(path)
    try:
        wasm = Path(path).read_bytes()
    except OSError as exc:
        raise LayerError(f"cannot read cache component {label!r}: {exc.strerror}") from None
    problem = _not_a_component(wasm)
    if problem:
        raise LayerError(f"cache component {label}: {problem}")
    try:
        exports = {name: sort for name, sort, _ in _exports(wasm)}
        if exports.get(CACHE_INTERFACE) != INSTANCE_SORT:
            others = ", ".join(sorted(exports)) or "nothing"
            raise LayerError(f"cache component {label}: does not export {CACHE_INTERFACE} "
                             f"(it exports {others})")
        prefix = read_prefix(wasm)
        refuse_private_imports([imp.name for imp in prefix.imports])
    except PrivateImport as exc:
        raise LayerError(f"cache component {label}: {exc}") from None
    except (Unsupported, IndexError, UnicodeDecodeError) as exc:
        raise LayerError(f"cache component {label}: cannot be composed: "
                         f"{exc or 'truncated'}") from None
    return CacheComponent(label, wasm, prefix)


def _not_a_component(wasm: bytes) -> str | None:
    if wasm[:4] != b"\0asm":
        return "not a WebAssembly file (no \\0asm header)"
    if wasm[4:8] == b"\x01\x00\x00\x00":
        return "a core WebAssembly module, not a component"
    if wasm[:8] != COMPONENT_HEADER:
        return "not a component of the known binary version"
    return None


@functools.cache
def _probe(number: int) -> bytes:
    """A component that only imports, as ``cache-component-N``, the cache interface's exact
    instance type: instantiating it with a layer's export makes Wasmtime check that export."""
    return wat2wasm(f"""(component
  (import "{PROBE_IMPORT.format(number)}" (instance
    (type $e {_ENUM})
    (export "error" (type $error (eq $e)))
    (type $p (list u8))
    (export "payload" (type $payload (eq $p)))
    (export "set" (func (param "key" string) (param "value" $payload)
                        (param "ttl" (option u32)) (result (result (error $error)))))
    (export "get" (func (param "key" string) (result (result $payload (error $error)))))
    (export "delete" (func (param "key" string) (result (result (error $error))))))))""")


def _instantiate(component: int, args: list[bytes]) -> bytes:
    return b"\x00" + _uleb(component) + _uleb(len(args)) + b"".join(args)


def _arg(name: str, sort: Sort, index: int) -> bytes:
    return _enc_string(name) + sort + _uleb(index)


def compose(guest: bytes, layers: Sequence[CacheComponent]) -> bytes:
    """The wrapper component: `guest` served by `layers` (the first serves the guest). Raises
    `WasmcacheError` (one line) when they cannot be composed."""
    try:
        prefix = read_prefix(guest)
        exports = _exports(guest)
    except (Unsupported, IndexError, UnicodeDecodeError) as exc:
        raise WasmcacheError(f"cannot be composed with its cache components: {exc}") from None
    if any(ascribed for _, _, ascribed in exports):
        raise WasmcacheError("cannot be composed with its cache components: an export with a "
                             "type ascription")
    refuse_private_imports([imp.name for imp in prefix.imports])
    cache_import = prefix.imported(CACHE_INTERFACE)
    if cache_import is None or cache_import.sort != INSTANCE_SORT:
        raise GuestWithoutCache(
            f"does not import {CACHE_INTERFACE}, so its cache component "
            f"{layers[0].path} would never be called; run it without --cache-component "
            "(or without the profile's cache_components)")
    for upper, lower in zip(layers, layers[1:], strict=False):
        if not upper.imports_cache:
            raise upper.error(f"does not import {CACHE_INTERFACE}, so the next cache "
                              f"component ({lower.path}) would never be called")
    try:
        merged = merge_prefixes([prefix, *(layer.prefix for layer in layers)])
    except Unsupported as exc:
        raise WasmcacheError(f"cannot be composed with its cache components: {exc}") from None
    out = [COMPONENT_HEADER, _section(CUSTOM, _enc_string(MARKER) + LAYERS_VERSION.encode()),
           *merged.sections]

    below = None  # the instance that serves the layer being instantiated
    adapter = None
    if layers[-1].imports_cache:
        adapter_wasm, private_type = _adapter_parts(adapter_wat(), private_instance_type_wat())
        host_type = merged.add(TYPE_SORT)
        host = merged.add(INSTANCE_SORT)
        out += [_vec_section(TYPE, [private_type]),
                _vec_section(IMPORT, [b"\x00" + _enc_string(PAYLOAD_INTERFACE)
                                      + INSTANCE_SORT + _uleb(host_type)])]
        adapter = merged.add(COMPONENT_SORT)
        out.append(_section(COMPONENT, adapter_wasm))
    probes = [merged.add(COMPONENT_SORT) for _ in layers]
    out += [_section(COMPONENT, _probe(number)) for number in range(1, len(layers) + 1)]
    nested = [merged.add(COMPONENT_SORT) for _ in range(len(layers) + 1)]
    out += [_section(COMPONENT, wasm) for wasm in (guest, *(layer.wasm for layer in layers))]

    if adapter is not None:
        out.append(_vec_section(INSTANCE, [_instantiate(
            adapter, [_arg("host", INSTANCE_SORT, host)])]))
        adapter_instance = merged.add(INSTANCE_SORT)
        out.append(_vec_section(ALIAS, [INSTANCE_SORT + b"\x00" + _uleb(adapter_instance)
                                        + _enc_string("cache")]))
        below = merged.add(INSTANCE_SORT)
    for number in range(len(layers), 0, -1):  # the last layer first
        instance = _instantiate_nested(merged, layers[number - 1].prefix, number,
                                       nested[number], below, out)
        below = merged.add(INSTANCE_SORT)
        out.append(_vec_section(ALIAS, [INSTANCE_SORT + b"\x00" + _uleb(instance)
                                        + _enc_string(CACHE_INTERFACE)]))
        merged.add(INSTANCE_SORT)
        out.append(_vec_section(INSTANCE, [_instantiate(
            probes[number - 1], [_arg(PROBE_IMPORT.format(number), INSTANCE_SORT, below)])]))
    guest_instance = _instantiate_nested(merged, prefix, 0, nested[0], below, out)
    if exports:
        aliases, items = [], []
        for name, sort, _ in exports:
            aliases.append(sort + b"\x00" + _uleb(guest_instance) + _enc_string(name))
            items.append(b"\x00" + _enc_string(name) + sort + _uleb(merged.add(sort)) + b"\x00")
        out += [_vec_section(ALIAS, aliases), _vec_section(EXPORT, items)]
    return b"".join(out)


def _instantiate_nested(merged: Merged, prefix: Prefix, number: int, component: int,
                        cache: int | None, out: list[bytes]) -> int:
    """Instantiate nested component `number` (0: the guest; its prefix `prefix`) with the
    wrapper's imports, its cache import served by instance `cache`; the new instance's index."""
    args = []
    for imp in prefix.imports:
        if imp.name == CACHE_INTERFACE and cache is not None:
            args.append(_arg(imp.name, imp.sort, cache))
        else:
            args.append(_arg(imp.name, imp.sort, merged.index(number, imp.sort, imp.index)))
    out.append(_vec_section(INSTANCE, [_instantiate(component, args)]))
    return merged.add(INSTANCE_SORT)
