"""examples/lru_cache on its own: the component's exported wasmcache:cache/cache, called from
Python through the same composition `wasmcache run --cache-component` builds
(`wasmcache.testing.component`: under a mirror guest, 1 MiB payloads in one copy), against
the whole contract.

The contract is `ComponentContractTests` (`BackendContractTests`, each namespace served by an
instance of its own: an instance is all an LRU component's data lives in), plus what only this
implementation promises: its bounds (LRU_MAX_ENTRIES 1024, LRU_MAX_BYTES 4 MiB),
least-recently-used eviction with expired entries dropped first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import wasmtime
from build import build_c_component
from wasmcache.errors import CacheError
from wasmcache.testing.component import ComponentCache, ComponentContractTests
from wasmcache.testing.contract import NOT_FOUND
from wasmtime.component import Component, Linker

CACHE_INTERFACE = "wasmcache:cache/cache@0.1.0"
MIB = 1024 * 1024
MAX_ENTRIES = 1024
MAX_BYTES = 4 * MIB

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lru_wasm() -> Path:
    """examples/lru_cache built with clang and jco (cached outside git)."""
    return build_c_component("lru_cache")


@pytest.fixture(scope="module")
def lru_component(lru_wasm: Path) -> tuple[wasmtime.Engine, Linker, Component]:
    """examples/lru_cache compiled on its own, for its type; a linker with WASI 0.2."""
    engine = wasmtime.Engine()
    linker = Linker(engine)
    linker.add_wasip2()
    return engine, linker, Component.from_file(engine, lru_wasm)


@pytest.fixture
def new_instance(lru_wasm: Path) -> Callable[[], ComponentCache]:
    return lambda: ComponentCache([lru_wasm])


class TestLruCacheContract(ComponentContractTests):
    """Every line of the contract, each namespace an instance of the component."""

    @pytest.fixture
    def cache_components(self, lru_wasm: Path) -> list[Path]:
        return [lru_wasm]


@pytest.fixture
def lru(new_instance: Callable[[], ComponentCache]) -> ComponentCache:
    return new_instance()


def test_it_imports_only_a_clock_and_exports_the_interface_exactly(
        lru_component: tuple[wasmtime.Engine, Linker, Component]) -> None:
    """Its export has the signatures of wit/cache.wit, as the C guest (built from the same
    WIT) imports them."""
    engine, _, component = lru_component
    lru_type = component.type
    assert list(lru_type.imports(engine)) == ["wasi:clocks/monotonic-clock@0.2.0"]
    assert list(lru_type.exports(engine)) == [CACHE_INTERFACE]
    exported = lru_type.exports(engine)[CACHE_INTERFACE].ty.exports(engine)
    guest = Component.from_file(engine, build_c_component("hello_cache_c")).type
    imported = guest.imports(engine)[CACHE_INTERFACE].ty.exports(engine)
    assert sorted(exported) == sorted(imported) == ["delete", "error", "get", "payload", "set"]
    for name in ("set", "get", "delete"):
        ours, wanted = exported[name].ty, imported[name].ty
        assert [n for n, _ in ours.params] == [n for n, _ in wanted.params], name
        assert all(a == b for (_, a), (_, b) in zip(ours.params, wanted.params, strict=True))
        assert ours.result == wanted.result, name


def test_instances_share_nothing(new_instance: Callable[[], ComponentCache]) -> None:
    first, second = new_instance(), new_instance()
    assert first.set("k", b"first", None) is None
    assert second.get("k") == NOT_FOUND


def _fill(lru: ComponentCache, keys: range | list[str], value: bytes = b"v") -> None:
    for key in keys:
        assert lru.set(str(key), value, None) is None, key


def test_the_least_recently_used_entry_goes_when_the_count_is_full(lru: ComponentCache) -> None:
    _fill(lru, range(MAX_ENTRIES))
    assert lru.get("0") == b"v"  # a get is a use: "1" is now the least recent
    assert lru.set("1023", b"again", None) is None  # so is a set, and a replacement adds none
    _fill(lru, ["new-a"])
    assert lru.get("1") == NOT_FOUND
    assert lru.get("0") == b"v"
    _fill(lru, ["new-b", "new-c"])
    assert [lru.get(key) for key in ("2", "3")] == [NOT_FOUND, NOT_FOUND]
    alive = [str(k) for k in range(4, MAX_ENTRIES)] + ["0", "new-a", "new-b", "new-c"]
    assert len(alive) == MAX_ENTRIES
    assert all(lru.get(key) != NOT_FOUND for key in alive)


def test_deleted_and_ttl_0_entries_free_their_place(lru: ComponentCache) -> None:
    _fill(lru, range(MAX_ENTRIES))
    assert lru.delete("5") is None
    assert lru.set("6", b"gone", 0) is None
    _fill(lru, ["new-a", "new-b"])  # the two free places: nothing else goes
    assert all(lru.get(str(key)) == b"v" for key in range(MAX_ENTRIES) if key not in (5, 6))


def test_expired_entries_go_before_the_least_recently_used(lru: ComponentCache) -> None:
    _fill(lru, range(MAX_ENTRIES - 2))
    assert lru.set("short-1", b"v", 1) is None  # the two most recent, expiring in 1 s
    assert lru.set("short-2", b"v", 1) is None
    time.sleep(1.2)
    _fill(lru, ["new-a", "new-b"])
    assert lru.get("0") == b"v"  # the least recent stayed: the expired ones made room
    assert [lru.get(k) for k in ("short-1", "short-2")] == [NOT_FOUND, NOT_FOUND]
    _fill(lru, ["new-c"])
    assert lru.get("1") == NOT_FOUND  # nothing expired is left: now the least recent goes


def test_the_least_recently_used_bytes_go_when_the_size_is_full(lru: ComponentCache) -> None:
    """Keys plus values are bounded by 4 MiB: four entries of exactly 1 MiB fill it."""
    big = (bytes(range(256)) * (MIB // 256))[:MIB - len("big-0")]  # key + value = 1 MiB
    assert lru.set("small", b"x", None) is None
    for number in range(MAX_BYTES // MIB - 1):
        assert lru.set(f"big-{number}", big, None) is None
    assert lru.get("small") == b"x"  # a use: big-0 is now the least recent
    assert lru.set("big-3", big, None) is None  # 6 bytes too many: big-0 goes, and only it
    assert [lru.get("big-0"), lru.get("small")] == [NOT_FOUND, b"x"]
    assert lru.set("big-1", b"", None) is None  # a smaller value frees its bytes,
    assert lru.set("big-4", big, None) is None  # so this one fits with nothing evicted
    assert lru.get("big-2") == big


def test_a_refused_set_changes_nothing(lru: ComponentCache) -> None:
    _fill(lru, range(MAX_ENTRIES))
    assert lru.set("", b"v", None) == CacheError.INVALID_KEY
    assert lru.set("k" * 251, b"v", None) == CacheError.INVALID_KEY
    assert lru.delete("k" * 251) == CacheError.INVALID_KEY
    assert lru.get("") == CacheError.INVALID_KEY
    assert all(lru.get(str(key)) == b"v" for key in range(MAX_ENTRIES))
