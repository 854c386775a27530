"""The cache contract held against cache components (``wasmcache run --cache-component``).

`ComponentContractTests` runs every test of `BackendContractTests` against components that
export ``wasmcache:cache/cache@0.1.0``, through exactly what ``wasmcache run`` builds: the
components composed (`wasmcache.compose.layers`) under a tiny WAT guest, the mirror
(`wasmcache.compose.adapter.mirror_guest_wat`), which re-exports the interface with Latin-1
string payloads so a test moves 1 MiB in one copy instead of wasmtime-py's one Python int per
byte. Keys cross as UTF-8 bytes (``utf8_keys``): a component built with componentize-py cannot
take a key that needs transcoding on the way in (its realloc refuses to grow a block). A
component that imports the cache interface itself is served, below the last one, by the host:
a `GuestSession` over the test's backend (``backend_url``, memory:// by default), through the
payload adapter::

    from wasmcache.testing import ComponentContractTests

    class TestMyComponent(ComponentContractTests):
        @pytest.fixture
        def cache_components(self):
            return ["build/my_cache.wasm"]            # the first serves the tests

Namespaces: a namespace is an instance of the composition with a session of its own, as a
guest run is (one run, one namespace, one instance). So the namespace tests check that data
kept inside an instance is the instance's own, and that data sent below stays in the session's
namespace on the host. Two sessions of one namespace share the host's data, not an instance's.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from wasmtime import Engine, Store, WasiConfig, wat2wasm
from wasmtime.component import Component, Linker

from ..compose.adapter import mirror_guest_wat
from ..errors import CacheError
from ..linker import add_to_linker
from ..session import GuestSession
from ..wire.table import ERROR_CASES
from .contract import BackendContractTests, TrackingBackend, unique_namespace

Paths = tuple[str, ...]


@functools.cache
def _mirror_file() -> str:
    """The mirror guest as a file, written once per process (`load_guest` reads files)."""
    folder = tempfile.mkdtemp(prefix="wasmcache-mirror-")
    path = os.path.join(folder, "mirror.wasm")
    Path(path).write_bytes(wat2wasm(mirror_guest_wat(utf8_keys=True)))
    return path


@functools.cache
def composed_mirror(components: Paths) -> tuple[Engine, Component]:
    """The mirror guest composed with `components`, compiled once per process (and cached
    across processes by the compile cache)."""
    from ..runner import load_guest, make_engine

    engine = make_engine()
    return engine, load_guest(engine, _mirror_file(), components=components)


class ComponentCache:
    """One instance of `components` under the mirror, called like a `GuestSession`: None or
    bytes for ok, the `CacheError` for an error. `session` serves the last component's own
    cache import, if it has one (default: a memory backend's)."""

    def __init__(self, components: Sequence[str | os.PathLike[str]],
                 session: GuestSession | None = None) -> None:
        from ..backends.memory import MemoryBackend
        from ..runner import NO_DEADLINE

        self.session = session or GuestSession(MemoryBackend(), unique_namespace())
        engine, component = composed_mirror(tuple(os.fspath(c) for c in components))
        linker = Linker(engine)
        linker.add_wasip2()
        add_to_linker(linker, self.session)
        self.store = Store(engine)
        self.store.set_epoch_deadline(NO_DEADLINE)
        self.store.set_wasi(WasiConfig())
        instance = linker.instantiate(self.store, component)
        self._funcs = {name: instance.get_func(self.store, instance.get_export_index(
            self.store, name)) for name in ("set", "get", "delete")}

    def _call(self, name: str, *args: object) -> object:
        result = self._funcs[name](self.store, *args)  # type: ignore[misc]
        if isinstance(result, int):
            return CacheError(ERROR_CASES[result])
        if isinstance(result, str):
            return result.encode("latin-1")
        return result

    def set(self, key: str, value: bytes, ttl: int | None) -> object:
        return self._call("set", key.encode(), value.decode("latin-1"), ttl)

    def get(self, key: str) -> object:
        return self._call("get", key.encode())

    def delete(self, key: str) -> object:
        return self._call("delete", key.encode())


class ComponentContractTests(BackendContractTests):
    """The contract against cache components. Provide ``cache_components`` (paths, the first
    serving the tests); override ``backend_url`` for the host backend under the last one."""

    @pytest.fixture
    def cache_components(self) -> Sequence[str | os.PathLike[str]]:
        raise NotImplementedError("subclasses of ComponentContractTests provide cache_components")

    @pytest.fixture
    def backend_url(self) -> str:
        return "memory://"

    #: a backend plugin's test (its declared capabilities): here the components are under test
    test_declared_capabilities_are_the_backends_own = None  # type: ignore[assignment]

    @pytest.fixture
    def cache(self, cache_components: Sequence[str], backend: TrackingBackend
              ) -> ComponentCache:
        return ComponentCache(cache_components, GuestSession(backend, unique_namespace()))

    @pytest.fixture
    def other_namespace(self, cache_components: Sequence[str], backend: TrackingBackend
                        ) -> Callable[[str], ComponentCache]:
        instances: dict[str, ComponentCache] = {}

        def instance(namespace: str) -> ComponentCache:
            if namespace not in instances:
                instances[namespace] = ComponentCache(cache_components,
                                                      GuestSession(backend, namespace))
            return instances[namespace]

        return instance
