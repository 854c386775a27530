"""Merge the leading type, import and alias sections (the *prefixes*) of several components into
one wrapper's, renumbering every index.

`nest.wrap` copies one guest's prefix verbatim, so its indices keep their meaning. Composing
several components (`wasmcache.compose.layers`) needs the union of their imports in ONE wrapper:
each prefix is renumbered into the wrapper's index spaces, and an import that two components
share (``wasi:io/streams@0.2.9``...) is declared once, with an instance type that is the union
of theirs (toolchains declare only the functions a component uses, so two components may each
use some the other does not), and handed to both: both then reach the same host instance.

The walker follows the component-model binary grammar of those sections, copying bytes and
rewriting only indices into the one scope being renumbered: ``valtype`` and ``own``/``borrow``
type indices, extern descriptors, ``alias export`` instance indices, and ``alias outer`` whose
count reaches that scope. Anything it does not know raises `Unsupported`, so a component this
module cannot read is refused, never composed wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .nest import (
    ALIAS,
    CORE_TYPE,
    CUSTOM,
    IMPORT,
    TYPE,
    Unsupported,
    _enc_string,
    _leb,
    _sections,
    _uleb,
    _vec_section,
)

#: A sort as encoded: one byte for component sorts, two (0x00, kind) for core sorts.
Sort = bytes
FUNC, VALUE, TYPE_SORT, COMPONENT, INSTANCE = b"\x01", b"\x02", b"\x03", b"\x04", b"\x05"
CORE_TYPE_SORT, CORE_MODULE = b"\x00\x10", b"\x00\x11"
PRIMITIVE_VALTYPES = set(range(0x73, 0x80)) | {0x64}
PREFIX_IDS = {CUSTOM, CORE_TYPE, TYPE, IMPORT, ALIAS}
INSTANCE_TYPE = 0x42

#: (sort, index) -> the index in the scope being renumbered
Remap = Callable[[Sort, int], int]


def _identity(_sort: Sort, index: int) -> int:
    return index


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    """A signed LEB128 (an s33 value type: negative for a primitive, else a type index)."""
    value, end = _leb(data, pos)
    if data[end - 1] & 0x40:
        value -= 1 << (7 * (end - pos))
    return value, end


def _enc_sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


class _Walker:
    """Copies one entry from `data` at `pos` to `out`; an index into the scope at depth
    `scope` (0: the component itself, 1: inside one of its types...) goes through `remap`."""

    def __init__(self, data: bytes, pos: int, remap: Remap = _identity, scope: int = 0) -> None:
        self.data, self.pos, self.remap, self.scope = data, pos, remap, scope
        self.out = bytearray()

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        self.out.append(value)
        return value

    def u32(self) -> int:
        value, end = _leb(self.data, self.pos)
        self.out += self.data[self.pos:end]
        self.pos = end
        return value

    def index(self, sort: Sort, depth: int) -> int:
        """A u32 index into the `sort` space of the scope at `depth`."""
        value, end = _leb(self.data, self.pos)
        if depth == self.scope:
            self.out += _uleb(self.remap(sort, value))
        else:
            self.out += self.data[self.pos:end]
        self.pos = end
        return value

    def string(self) -> str:
        size = self.u32()
        raw = self.data[self.pos:self.pos + size]
        self.out += raw
        self.pos += size
        return raw.decode("utf-8")

    def valtype(self, depth: int) -> None:
        value, end = _sleb(self.data, self.pos)
        if value < 0:
            if self.data[self.pos] not in PRIMITIVE_VALTYPES:
                raise Unsupported(f"value type {self.data[self.pos]:#x}")
            self.out += self.data[self.pos:end]
        elif depth == self.scope:
            self.out += _enc_sleb(self.remap(TYPE_SORT, value))
        else:
            self.out += self.data[self.pos:end]
        self.pos = end

    def optional(self, read: Callable[[], object]) -> None:
        if self.byte() == 0x01:
            read()

    def sort(self) -> Sort:
        first = self.byte()
        return bytes([first, self.byte()]) if first == 0x00 else bytes([first])

    def name(self) -> str:
        """An import or export name (only the plain form, 0x00, is written by toolchains)."""
        if self.byte() != 0x00:
            raise Unsupported(f"name form {self.data[self.pos - 1]:#x}")
        return self.string()


def _deftype(w: _Walker, depth: int) -> None:
    """A type defined in the scope at `depth` (its indices point into that scope)."""
    tag = w.byte()
    if tag in PRIMITIVE_VALTYPES:
        return
    if tag == 0x72:  # record
        for _ in range(w.u32()):
            w.string()
            w.valtype(depth)
    elif tag == 0x71:  # variant
        for _ in range(w.u32()):
            w.string()
            w.optional(lambda: w.valtype(depth))
            if w.byte() != 0x00:  # a case that "refines" another: gone from the format
                raise Unsupported("variant case refinement")
    elif tag in (0x70, 0x6B):  # list, option
        w.valtype(depth)
    elif tag == 0x67:  # fixed-size list
        w.valtype(depth)
        w.u32()
    elif tag == 0x6F:  # tuple
        for _ in range(w.u32()):
            w.valtype(depth)
    elif tag in (0x6E, 0x6D):  # flags, enum
        for _ in range(w.u32()):
            w.string()
    elif tag == 0x6A:  # result
        w.optional(lambda: w.valtype(depth))
        w.optional(lambda: w.valtype(depth))
    elif tag in (0x69, 0x68):  # own, borrow
        w.index(TYPE_SORT, depth)
    elif tag in (0x66, 0x65):  # stream, future
        w.optional(lambda: w.valtype(depth))
    elif tag in (0x40, 0x43):  # function (sync, async)
        for _ in range(w.u32()):
            w.string()
            w.valtype(depth)
        if w.byte() == 0x00:
            w.valtype(depth)
        else:  # 0x01: named results (an older form; now always an empty list)
            for _ in range(w.u32()):
                w.string()
                w.valtype(depth)
    elif tag == 0x41:  # component type
        for _ in range(w.u32()):
            _decl(w, depth + 1, component=True)
    elif tag == INSTANCE_TYPE:
        for _ in range(w.u32()):
            _decl(w, depth + 1)
    else:
        raise Unsupported(f"type form {tag:#x}")


def _decl(w: _Walker, depth: int, component: bool = False) -> tuple[Sort, str | None]:
    """One declaration inside an instance (or component) type, in the scope at `depth`:
    the sort it adds an index to, and its name when it is an export."""
    tag = w.byte()
    if tag == 0x00:
        _core_deftype(w)
        return CORE_TYPE_SORT, None
    if tag == 0x01:
        _deftype(w, depth)
        return TYPE_SORT, None
    if tag == 0x02:
        sort = w.sort()
        if w.byte() != 0x02:
            raise Unsupported("an alias other than outer inside a type")
        count = w.u32()
        w.index(sort, depth - count)
        return sort, None
    if tag == 0x04 or (tag == 0x03 and component):  # export (or a component type's import)
        name = w.name()
        sort, _ = _externdesc(w, depth)
        return sort, name if tag == 0x04 else None
    raise Unsupported(f"type declaration {tag:#x}")


def _core_deftype(w: _Walker) -> None:
    """A core function type (the only core type a prefix has any use for)."""
    if w.byte() != 0x60:
        raise Unsupported(f"core type form {w.data[w.pos - 1]:#x}")
    for _ in range(2):
        for _ in range(w.u32()):
            if w.byte() not in (0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F):
                raise Unsupported("core reference type")


def _externdesc(w: _Walker, depth: int) -> tuple[Sort, int]:
    """An extern descriptor in the scope at `depth`: the sort it declares and its type index
    (-1 when it has none)."""
    kind = w.byte()
    if kind == 0x00:
        if w.byte() != 0x11:
            raise Unsupported("core extern descriptor")
        return CORE_MODULE, w.index(CORE_TYPE_SORT, depth)
    sort = bytes([kind])
    if sort == VALUE:
        if w.byte() == 0x00:
            w.index(VALUE, depth)
        else:
            w.valtype(depth)
        return sort, -1
    if sort == TYPE_SORT:
        return sort, w.index(TYPE_SORT, depth) if w.byte() == 0x00 else -1
    if sort in (FUNC, COMPONENT, INSTANCE):
        return sort, w.index(TYPE_SORT, depth)
    raise Unsupported(f"extern descriptor {kind:#x}")


def _alias(w: _Walker) -> Sort:
    """A top-level alias: only of an export of an (imported) instance."""
    sort = w.sort()
    if w.byte() != 0x00:
        raise Unsupported("a top-level alias other than an instance export")
    w.index(INSTANCE, 0)
    w.string()
    return sort


@dataclass(frozen=True)
class Import:
    """One import of a component's prefix."""

    name: str
    sort: Sort
    index: int  #: in the component's own space of `sort`
    position: int  #: which entry of the prefix it is


@dataclass(frozen=True)
class _Entry:
    section: int
    start: int


@dataclass
class Prefix:
    """A component's prefix: where it ends, its entries and its imports."""

    wasm: bytes
    end: int  #: the offset of the first section after the prefix
    entries: list[_Entry] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)

    def imported(self, name: str) -> Import | None:
        return next((imp for imp in self.imports if imp.name == name), None)


def read_prefix(wasm: bytes) -> Prefix:
    """Parse `wasm`'s prefix (raises `Unsupported` for what this module does not know, and for
    imports after it, which a wrapper could not declare up front)."""
    prefix = Prefix(wasm, 8)
    counts: dict[Sort, int] = {}
    inside = True
    for section_id, start, end in _sections(wasm):
        inside = inside and section_id in PREFIX_IDS
        if not inside:
            if section_id == IMPORT:
                raise Unsupported("imports after the leading type/import/alias sections")
            continue
        prefix.end = end
        if section_id == CUSTOM:
            continue
        count, pos = _leb(wasm, start)
        for _ in range(count):
            w = _Walker(wasm, pos)
            if section_id == IMPORT:
                name = w.name()
                sort, _ = _externdesc(w, 0)
                prefix.imports.append(Import(name, sort, _add(counts, sort),
                                             len(prefix.entries)))
            else:
                _add(counts, _define(w, section_id))
            prefix.entries.append(_Entry(section_id, pos))
            pos = w.pos
        if pos != end:
            raise Unsupported(f"section {section_id} has trailing bytes")
    return prefix


def _define(w: _Walker, section_id: int) -> Sort:
    """Walk a type, core type or alias entry; the sort it defines."""
    if section_id == TYPE:
        _deftype(w, 0)
        return TYPE_SORT
    if section_id == CORE_TYPE:
        _core_deftype(w)
        return CORE_TYPE_SORT
    return _alias(w)


def _add(counts: dict[Sort, int], sort: Sort) -> int:
    index = counts.get(sort, 0)
    counts[sort] = index + 1
    return index


def union_instance_type(encodings: list[bytes]) -> bytes:
    """One instance type (encoded, starting 0x42) exporting everything any of `encodings`
    exports; an export that several declare is taken from the first that declares it.
    The encodings are in one scope already (renumbered into the same wrapper)."""
    decls: list[bytes] = []
    counts: dict[Sort, int] = {}
    exported: dict[str, tuple[Sort, int]] = {}
    for encoding in dict.fromkeys(encodings):  # identical ones once
        local: dict[Sort, list[int]] = {}
        count, pos = _leb(encoding, 1)
        for _ in range(count):
            w = _Walker(encoding, pos, _Lookup(local), scope=1)
            sort, name = _decl(w, 1)
            pos = w.pos
            if name is not None and name in exported:
                kept_sort, kept = exported[name]
                if kept_sort != sort:
                    raise Unsupported(f"two declarations of {name!r} of different kinds")
                local.setdefault(sort, []).append(kept)
                continue
            index = _add(counts, sort)
            local.setdefault(sort, []).append(index)
            if name is not None:
                exported[name] = (sort, index)
            decls.append(bytes(w.out))
        if pos != len(encoding):
            raise Unsupported("an instance type with trailing bytes")
    return bytes([INSTANCE_TYPE]) + _uleb(len(decls)) + b"".join(decls)


class _Lookup:
    """A `Remap` through per-sort lists (one component's, or one instance type's)."""

    def __init__(self, maps: dict[Sort, list[int]]) -> None:
        self.maps = maps

    def __call__(self, sort: Sort, index: int) -> int:
        try:
            return self.maps[sort][index]
        except (KeyError, IndexError):
            raise Unsupported(f"index {index} of sort {sort.hex()} out of range") from None


@dataclass
class Merged:
    """The merged prefix of several components: its sections and, per component, where each of
    its indices went in the wrapper (per sort: its own index -> the wrapper's)."""

    sections: list[bytes]
    maps: list[dict[Sort, list[int]]]
    counts: dict[Sort, int]

    def add(self, sort: Sort) -> int:
        """A new index of `sort` after the prefix (for what the wrapper defines next)."""
        return _add(self.counts, sort)

    def index(self, component: int, sort: Sort, own: int) -> int:
        return self.maps[component][sort][own]


def merge_prefixes(prefixes: list[Prefix]) -> Merged:
    """The prefixes of `prefixes` in one wrapper, each import name declared once.

    Each component's entries keep their order. An import that several components share is a
    meeting point: it is declared once every one of them has reached it, with the union of
    their instance types (their own types for it were written, renumbered, just before). Two
    components that import two shared names in opposite orders cannot be merged this way:
    `Unsupported`.
    """
    return _Merger(prefixes).run()


class _Merger:
    """The state of `merge_prefixes`: one cursor per component, the sections written so far."""

    def __init__(self, prefixes: list[Prefix]) -> None:
        self.prefixes = prefixes
        self.sections: list[bytes] = []
        self.counts: dict[Sort, int] = {}
        self.maps: list[dict[Sort, list[int]]] = [{} for _ in prefixes]
        self.types: dict[int, bytes] = {}  # the wrapper's encoding of each type it defines
        self.cursors = [0] * len(prefixes)
        self.pending: list[bytes] = []  # entries of the section being written
        self.pending_id = -1
        self.importers: dict[str, list[int]] = {}
        for number, prefix in enumerate(prefixes):
            for imp in prefix.imports:
                self.importers.setdefault(imp.name, []).append(number)

    def run(self) -> Merged:
        while any(self.cursors[n] < len(p.entries) for n, p in enumerate(self.prefixes)):
            moved = False
            for number in range(len(self.prefixes)):
                moved = self._advance(number) or moved
            for name, numbers in self.importers.items():
                if len(numbers) > 1 and all(self._waiting(n) == name for n in numbers):
                    self._shared(name, numbers)
                    moved = True
                    break
            if not moved:
                stuck = sorted({name for n in range(len(self.prefixes))
                                if (name := self._waiting(n)) is not None})
                raise Unsupported("the components import " + " and ".join(stuck)
                                  + " in different orders")
        self._flush()
        return Merged(self.sections, self.maps, self.counts)

    def _emit(self, section_id: int, item: bytes) -> None:
        if section_id != self.pending_id:
            self._flush()
            self.pending_id = section_id
        self.pending.append(item)

    def _flush(self) -> None:
        if self.pending:
            self.sections.append(_vec_section(self.pending_id, self.pending))
            self.pending = []

    def _walker(self, number: int) -> tuple[_Entry, _Walker]:
        entry = self.prefixes[number].entries[self.cursors[number]]
        return entry, _Walker(self.prefixes[number].wasm, entry.start,
                              _Lookup(self.maps[number]))

    def _waiting(self, number: int) -> str | None:
        """The shared import component `number` stands at, if it stands at one."""
        position = self.cursors[number]
        return next((imp.name for imp in self.prefixes[number].imports
                     if imp.position == position and len(self.importers[imp.name]) > 1), None)

    def _advance(self, number: int) -> bool:
        """Copy component `number`'s entries up to its next shared import; True if it moved."""
        moved = False
        while (self.cursors[number] < len(self.prefixes[number].entries)
               and self._waiting(number) is None):
            entry, w = self._walker(number)
            if entry.section == IMPORT:
                w.name()
                sort, _ = _externdesc(w, 0)
            else:
                sort = _define(w, entry.section)
            index = _add(self.counts, sort)
            self.maps[number].setdefault(sort, []).append(index)
            if entry.section == TYPE:
                self.types[index] = bytes(w.out)
            self._emit(entry.section, bytes(w.out))
            self.cursors[number] += 1
            moved = True
        return moved

    def _shared(self, name: str, numbers: list[int]) -> None:
        """Declare the import `name` that components `numbers` share, once; map it in each."""
        declared: list[tuple[Sort, bytes, bytes | None]] = []  # sort, descriptor, its type
        for number in numbers:
            _, w = self._walker(number)
            w.name()
            mark = len(w.out)
            sort, own_type = _externdesc(w, 0)
            wrapper_type = self.maps[number][TYPE_SORT][own_type] if own_type >= 0 else None
            declared.append((sort, bytes(w.out[mark:]),
                             None if wrapper_type is None else self.types.get(wrapper_type)))
        if len({sort for sort, _, _ in declared}) > 1:
            raise Unsupported(f"{name} is imported as different kinds")
        sort, descriptor, _ = declared[0]
        encodings = [encoding for _, _, encoding in declared]
        if len(set(encodings)) > 1:
            if sort != INSTANCE or any(e is None or e[0] != INSTANCE_TYPE for e in encodings):
                raise Unsupported(f"{name} is imported with different types")
            union = union_instance_type([e for e in encodings if e is not None])
            type_index = _add(self.counts, TYPE_SORT)
            self.types[type_index] = union
            self._emit(TYPE, union)
            descriptor = INSTANCE + _uleb(type_index)
        self._emit(IMPORT, b"\x00" + _enc_string(name) + descriptor)
        index = _add(self.counts, sort)
        for number in numbers:
            self.maps[number].setdefault(sort, []).append(index)
            self.cursors[number] += 1
