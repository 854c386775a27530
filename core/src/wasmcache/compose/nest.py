"""`prepare_component`: nest an unchanged guest with wasmcache's adapters in a wrapper component.

The wrapper re-declares the guest's imports by copying the guest's leading type, import and alias
sections verbatim (so every index in them means the same thing), then appends, for each adapter
whose interfaces the guest imports (`ADAPTERS`: the cache's payload adapter for
``wasmcache:cache/cache``, the keyvalue adapter for ``wasi:keyvalue/store``, atomics and batch),
its private interface's import, the adapter as a nested component and its instantiation
(`_nest_adapter`); then the guest as a nested component, instantiated with every import it asked
for except that the adapters' interfaces now come from the adapters, and the guest's exports
re-exported. Only section headers and the few import, alias and export entries are parsed; the
18 MB of guest code is copied as one block.

Anything this module does not understand leaves the guest unchanged: the host then serves the
interfaces directly (`wasmcache.wire.cache.CACHE`, `wasmcache.keyvalue.linker`), which is slower
per byte but equally correct. A guest that imports a private interface itself is refused
(`PrivateImport`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from wasmtime import wat2wasm

from ..errors import WasmcacheError
from ..keyvalue.linker import INTERFACES as KEYVALUE_INTERFACES
from ..wire.cache import PAYLOAD_INTERFACE
from ..wire.keyvalue import KEYVALUE_INTERFACE
from ..wire.names import CACHE_INTERFACE, PRIVATE_PACKAGE
from .adapter import adapter_wat, private_instance_type_wat
from .keyvalue import keyvalue_adapter_wat, keyvalue_private_type_wat
from .version import ADAPTER_VERSION

log = logging.getLogger("wasmcache.compose")

COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"
CUSTOM, CORE_TYPE, COMPONENT, INSTANCE, ALIAS, TYPE, IMPORT, EXPORT = 0, 3, 4, 5, 6, 7, 10, 11
PREFIX_SECTIONS = {CUSTOM, CORE_TYPE, ALIAS, TYPE, IMPORT}
SORT_FUNC, SORT_VALUE, SORT_TYPE, SORT_COMPONENT, SORT_INSTANCE = 1, 2, 3, 4, 5
MARKER = "wasmcache-fastpath-adapter"


@dataclass(frozen=True)
class Adapter:
    """An adapter component and the guest imports it serves."""

    #: the private interface the adapter imports from the host (as "host")
    private_interface: str
    source: Callable[[], str]
    #: the private interface's instance type, as a one-entry component
    private_type: Callable[[], str]
    #: (the guest's import, the adapter's export serving it); the guest must import the first
    serves: tuple[tuple[str, str], ...]


CACHE_ADAPTER = Adapter(PAYLOAD_INTERFACE, adapter_wat, private_instance_type_wat,
                        ((CACHE_INTERFACE, "cache"),))
KEYVALUE_ADAPTER = Adapter(KEYVALUE_INTERFACE, keyvalue_adapter_wat, keyvalue_private_type_wat,
                           tuple(zip(KEYVALUE_INTERFACES, ("store", "atomics", "batch"),
                                     strict=True)))
ADAPTERS = (CACHE_ADAPTER, KEYVALUE_ADAPTER)


class Unsupported(Exception):
    """The guest uses an encoding this wrapper does not handle; it is left unchanged."""


class PrivateImport(WasmcacheError):
    """The component imports an interface that only wasmcache's own adapter may import."""


def refuse_private_imports(names: list[str]) -> None:
    """Raise `PrivateImport` when one of a component's import `names` is private."""
    for name in names:
        if name.startswith(PRIVATE_PACKAGE):
            raise PrivateImport(
                f"the component imports {name}, an interface private to wasmcache's own "
                "adapter; a guest may import wasmcache:cache/cache, wasi:keyvalue and WASI")


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _string(data: bytes, pos: int) -> tuple[str, int]:
    size, pos = _leb(data, pos)
    return data[pos:pos + size].decode("utf-8"), pos + size


def _enc_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return _uleb(len(raw)) + raw


def _section(section_id: int, content: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(content)) + content


def _vec_section(section_id: int, items: list[bytes]) -> bytes:
    return _section(section_id, _uleb(len(items)) + b"".join(items))


def _sections(wasm: bytes) -> list[tuple[int, int, int]]:
    """(id, content start, content end) of every top-level section."""
    out, pos = [], 8
    while pos < len(wasm):
        section_id = wasm[pos]
        size, start = _leb(wasm, pos + 1)
        out.append((section_id, start, start + size))
        pos = start + size
    if pos != len(wasm):
        raise Unsupported("truncated section")
    return out


def _sort(data: bytes, pos: int) -> tuple[bytes, int]:
    """A sort's encoding (1 byte, or 2 for core sorts) and the position after it."""
    return (data[pos:pos + 2], pos + 2) if data[pos] == 0 else (data[pos:pos + 1], pos + 1)


def _name(data: bytes, pos: int) -> tuple[str, int]:
    if data[pos] != 0x00:
        raise Unsupported(f"import/export name form {data[pos]:#x}")
    return _string(data, pos + 1)


@dataclass
class _Spaces:
    """How many items of each component-level sort the copied prefix defines."""

    counts: dict[int, int] = field(default_factory=dict)

    def add(self, sort: bytes) -> int:
        if sort[0] == 0:  # core sorts have their own spaces, which the wrapper never uses
            return -1
        index = self.counts.get(sort[0], 0)
        self.counts[sort[0]] = index + 1
        return index

    def next(self, sort: int) -> int:
        return self.counts.get(sort, 0)


def _read_import(data: bytes, pos: int) -> tuple[str, bytes, int]:
    name, pos = _name(data, pos)
    kind = data[pos]
    if kind == 0x00:  # core module: 0x00 0x11 typeidx
        _, end = _leb(data, pos + 2)
        return name, data[pos:pos + 2], end
    if kind in (SORT_FUNC, SORT_COMPONENT, SORT_INSTANCE):
        _, end = _leb(data, pos + 1)
        return name, data[pos:pos + 1], end
    if kind == SORT_TYPE:
        if data[pos + 1] == 0x00:
            _, end = _leb(data, pos + 2)
        else:
            end = pos + 2
        return name, data[pos:pos + 1], end
    raise Unsupported(f"import {name!r} of kind {kind:#x}")


def _read_alias(data: bytes, pos: int) -> tuple[bytes, int]:
    sort, pos = _sort(data, pos)
    target = data[pos]
    if target in (0x00, 0x01):
        _, pos = _leb(data, pos + 1)
        _, pos = _string(data, pos)
    elif target == 0x02:
        _, pos = _leb(data, pos + 1)
        _, pos = _leb(data, pos)
    else:
        raise Unsupported(f"alias target {target:#x}")
    return sort, pos


def _read_export(data: bytes, pos: int) -> tuple[str, bytes, int]:
    name, pos = _name(data, pos)
    sort, pos = _sort(data, pos)
    _, pos = _leb(data, pos)
    if data[pos] == 0x01:
        raise Unsupported(f"export {name!r} with a type ascription")
    return name, sort, pos + 1


@functools.cache
def _adapter_parts(adapter_source: str, private_type: str) -> tuple[bytes, bytes]:
    """The adapter component's binary and the encoded private instance type."""
    adapter = wat2wasm(adapter_source)
    types = wat2wasm(private_type)
    (section_id, start, end), = [s for s in _sections(types) if s[0] == TYPE]
    count, pos = _leb(types, start)
    assert section_id == TYPE and count == 1
    return adapter, types[pos:end]


def _nest_adapter(adapter: Adapter, source: str, spaces: _Spaces
                  ) -> tuple[list[bytes], dict[str, int]]:
    """The sections that import `adapter`'s private interface and instantiate the adapter with
    it, and the instance index of each export that replaces a guest import (by import name)."""
    binary, private_type = _adapter_parts(source, adapter.private_type())
    type_index = spaces.add(bytes([SORT_TYPE]))
    host_instance = spaces.add(bytes([SORT_INSTANCE]))
    adapter_index = spaces.add(bytes([SORT_COMPONENT]))
    adapter_instance = spaces.add(bytes([SORT_INSTANCE]))
    sections = [
        _vec_section(TYPE, [private_type]),
        _vec_section(IMPORT, [b"\x00" + _enc_string(adapter.private_interface)
                              + bytes([SORT_INSTANCE]) + _uleb(type_index)]),
        _section(COMPONENT, binary),
        _vec_section(INSTANCE, [b"\x00" + _uleb(adapter_index) + _uleb(1) + _enc_string("host")
                                + bytes([SORT_INSTANCE]) + _uleb(host_instance)]),
        _vec_section(ALIAS, [bytes([SORT_INSTANCE, 0x00]) + _uleb(adapter_instance)
                             + _enc_string(export) for _, export in adapter.serves]),
    ]
    return sections, {name: spaces.add(bytes([SORT_INSTANCE])) for name, _ in adapter.serves}


def wrap(wasm: bytes, adapter_source: str | None = None) -> bytes:
    """The wrapper component around `wasm`; raises `Unsupported` when it cannot be built.

    `adapter_source` replaces the cache adapter's WAT (the bench passes `floor_adapter_wat()`).
    """
    if wasm[:8] != COMPONENT_HEADER:
        raise Unsupported("not a component of the known binary version")
    sections = _sections(wasm)
    prefix_end = 0
    while prefix_end < len(sections) and sections[prefix_end][0] in PREFIX_SECTIONS:
        prefix_end += 1
    if any(sid == IMPORT for sid, _, _ in sections[prefix_end:]):
        raise Unsupported("imports after the leading type/import/alias sections")
    spaces = _Spaces()
    imports: list[tuple[str, bytes, int]] = []
    for sid, start, _end in sections[:prefix_end]:
        if sid == TYPE:
            count, _ = _leb(wasm, start)
            spaces.counts[SORT_TYPE] = spaces.next(SORT_TYPE) + count
        elif sid == IMPORT:
            count, pos = _leb(wasm, start)
            for _ in range(count):
                name, sort, pos = _read_import(wasm, pos)
                imports.append((name, sort, spaces.add(sort)))
        elif sid == ALIAS:
            count, pos = _leb(wasm, start)
            for _ in range(count):
                sort, pos = _read_alias(wasm, pos)
                spaces.add(sort)
    refuse_private_imports([name for name, _, _ in imports])
    instances = {name for name, sort, _ in imports if sort[0] == SORT_INSTANCE}
    adapters = [adapter for adapter in ADAPTERS if adapter.serves[0][0] in instances]
    if not adapters:
        raise Unsupported("the guest imports none of the interfaces an adapter serves")
    exports: list[tuple[str, bytes]] = []
    for sid, start, _end in sections[prefix_end:]:
        if sid == EXPORT:
            count, pos = _leb(wasm, start)
            for _ in range(count):
                name, sort, pos = _read_export(wasm, pos)
                exports.append((name, sort))

    prefix = wasm[8:sections[prefix_end - 1][2]] if prefix_end else b""
    out = [COMPONENT_HEADER, _section(CUSTOM, _enc_string(MARKER) + ADAPTER_VERSION.encode()),
           prefix]
    served: dict[str, int] = {}
    for adapter in adapters:
        source = (adapter_source if adapter is CACHE_ADAPTER and adapter_source
                  else adapter.source())
        nested, replaced = _nest_adapter(adapter, source, spaces)
        out += nested
        served.update(replaced)
    guest_index = spaces.add(bytes([SORT_COMPONENT]))
    guest_instance = spaces.add(bytes([SORT_INSTANCE]))
    args = []
    for name, sort, index in imports:
        if sort[0] == 0:
            raise Unsupported(f"core module import {name!r}")
        if sort[0] == SORT_INSTANCE:
            index = served.get(name, index)
        args.append(_enc_string(name) + sort + _uleb(index))
    out += [
        _section(COMPONENT, wasm),
        _vec_section(INSTANCE, [b"\x00" + _uleb(guest_index) + _uleb(len(args)) + b"".join(args)]),
    ]
    if exports:
        aliases, items = [], []
        for name, sort in exports:
            aliases.append(sort + b"\x00" + _uleb(guest_instance) + _enc_string(name))
            items.append(b"\x00" + _enc_string(name) + sort + _uleb(spaces.add(sort)) + b"\x00")
        out += [_vec_section(ALIAS, aliases), _vec_section(EXPORT, items)]
    return b"".join(out)


def is_wrapped(wasm: bytes) -> bool:
    """True when `wasm` is a wrapper this module built (so it is not wrapped twice)."""
    marker = _enc_string(MARKER)
    head = wasm[:9 + 40]
    return head[:9] == COMPONENT_HEADER + bytes([CUSTOM]) and marker in head[9:]


def prepare_component(wasm: bytes) -> bytes:
    """`wasm` nested with the adapters it needs, or `wasm` itself when that is impossible.

    Unchanged for a guest that imports neither the cache interface nor wasi:keyvalue/store, or
    uses an encoding `wrap` does not handle; `PrivateImport` for one that imports a private
    interface itself (an already wrapped component included: only the wrapper made in this
    process may).
    """
    try:
        return wrap(wasm)
    except (Unsupported, IndexError, UnicodeDecodeError) as exc:
        log.debug("guest left unwrapped: %s", exc)
        return wasm
