"""The Python API for embedders: add_to_linker on their own engine/linker/store, and run_guest."""

from __future__ import annotations

from pathlib import Path

import pytest
import wasmcache
from wasmcache import GuestOptions, GuestSession, open_backend, run_guest
from wasmcache.compile_cache import cache_dir, load_component
from wasmtime import Engine, Store
from wasmtime.component import Component, Linker

# A guest that imports the cache and exports `probe: func(key: string) -> result<list<u8>, error>`
# (its core module just forwards to the imported `get`), so the test drives a real component call.
PROBE_WAT = """
(component
  (type $error (enum "not-found" "invalid-key" "value-too-large" "access-denied"
                     "unavailable" "internal"))
  (import "wasmcache:cache/cache@0.1.0" (instance $cache
    (export "error" (type $e (eq $error)))
    (export "get" (func (param "key" string) (result (result (list u8) (error $e)))))))
  (core module $mem (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $ptr i32)
      (local.set $ptr (i32.and (i32.add (global.get $next) (i32.const 7)) (i32.const -8)))
      (global.set $next (i32.add (local.get $ptr) (local.get 3)))
      (local.get $ptr)))
  (core instance $m (instantiate $mem))
  (alias core export $m "memory" (core memory $memory))
  (alias core export $m "realloc" (core func $realloc))
  (alias export $cache "get" (func $get))
  (alias export $cache "error" (type $imported_error))
  (core func $get_lowered (canon lower (func $get) (memory $memory) (realloc $realloc)))
  (core module $probe
    (import "host" "get" (func $get (param i32 i32 i32)))
    (import "host" "memory" (memory 1))
    (func (export "probe") (param i32 i32) (result i32)
      (call $get (local.get 0) (local.get 1) (i32.const 64))
      (i32.const 64)))
  (core instance $p (instantiate $probe
    (with "host" (instance (export "get" (func $get_lowered)) (export "memory" (memory $memory))))))
  (func (export "probe") (param "key" string) (result (result (list u8) (error $imported_error)))
    (canon lift (core func $p "probe") (memory $memory) (realloc $realloc))))
"""


def test_add_to_linker_serves_a_guest_on_the_embedders_store(wasmcache_memory_url: str) -> None:
    engine = Engine()
    host = GuestSession(open_backend(wasmcache_memory_url), "embedder")
    assert host.set("hello", b"\x00world", None) is None
    linker = Linker(engine)
    wasmcache.add_to_linker(linker, host)
    store = Store(engine)
    instance = linker.instantiate(store, Component(engine, PROBE_WAT))
    probe = instance.get_func(store, "probe")
    assert probe(store, "hello") == b"\x00world"
    probe.post_return(store)
    assert probe(store, "missing") == "not-found"
    probe.post_return(store)
    assert probe(store, "") == "invalid-key"


def test_run_guest_api(hello_guest: Path, capfd: pytest.CaptureFixture[str],
                       wasmcache_memory_url: str) -> None:
    code = run_guest(hello_guest, wasmcache_memory_url,
                     GuestOptions(namespace="api", args=["set", "k", "v"]))
    assert code == 0
    assert capfd.readouterr().out == "set k: ok\n"
    assert GuestSession(open_backend(wasmcache_memory_url), "api").get("k") == b"v"


def test_compiled_components_are_cached(tmp_path: Path, wat_guest) -> None:
    wasm = wat_guest("err").read_bytes()
    engine = Engine()
    load_component(engine, wasm, "default", tmp_path)
    artefacts = list(tmp_path.glob("*.cwasm"))
    assert len(artefacts) == 1
    stamp = artefacts[0].stat().st_mtime_ns
    load_component(engine, wasm, "default", tmp_path)
    assert [p.stat().st_mtime_ns for p in tmp_path.glob("*.cwasm")] == [stamp]


def test_damaged_artefact_is_recompiled(tmp_path: Path, wat_guest) -> None:
    wasm = wat_guest("err").read_bytes()
    engine = Engine()
    load_component(engine, wasm, "default", tmp_path)
    (artefact,) = tmp_path.glob("*.cwasm")
    artefact.write_bytes(b"garbage")
    assert load_component(engine, wasm, "default", tmp_path) is not None
    assert artefact.read_bytes() != b"garbage"


def test_compile_cache_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WASMCACHE_COMPILE_CACHE", "off")
    assert cache_dir() is None
    monkeypatch.setenv("WASMCACHE_COMPILE_CACHE", str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.delenv("WASMCACHE_COMPILE_CACHE")
    assert cache_dir().name == "components"


def test_second_run_of_the_big_guest_does_not_compile(run_cli, hello_guest: Path,
                                                      tmp_path: Path) -> None:
    cache = tmp_path / "compiled"
    env = {"WASMCACHE_COMPILE_CACHE": str(cache)}
    first = run_cli("run", "-b", "memory://", str(hello_guest), "get", "k", env=env)
    assert first.returncode == 1
    (artefact,) = cache.glob("*.cwasm")
    stamp = artefact.stat().st_mtime_ns
    second = run_cli("run", "-b", "memory://", str(hello_guest), "get", "k", env=env)
    assert second.stdout == first.stdout
    assert artefact.stat().st_mtime_ns == stamp
