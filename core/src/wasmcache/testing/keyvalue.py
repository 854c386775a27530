"""`KeyValueContractTests`: wasi:keyvalue (store, atomics, batch) through the host API.

Mix it into a backend's contract class (it needs the same ``backend_url`` fixture)::

    class TestMyStore(BackendContractTests, KeyValueContractTests): ...

Every operation is checked through `KeyValueHost` with the backend's native capabilities, and
again through a guest (`wasmcache.testing.kvguest.GuestKeyValue`: the keyvalue mirror guest
nested with the keyvalue adapter) on a host registered in each style, ``capi`` and ``public``;
the atomics are also checked through the core's generic fallbacks on the same store
(`BareBackend`). The concurrency test starts 8 processes, half of them calling through a guest
on each style, that each increment one counter 1,000 times and run 100 compare-and-swap
updates; it is skipped only for ``memory://``, whose store is per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..backend import Backend
from ..buckets import Bucket
from ..capabilities import CAPABILITIES, KeyValueOps
from ..keyvalue.host import ACCESS_DENIED, NO_SUCH_STORE, CasFailed, KeyValueHost, KvError
from ..policy import Access, Policy
from ..session import GuestSession
from .contract import TrackingBackend, tracked_backend, unique_namespace
from .kvguest import GuestKeyValue

PROCESSES = 8
INCREMENTS = 1000
CAS_UPDATES = 100
#: the concurrency test's processes call through a guest, half of them on each style
HAMMER_PATHS = ("capi", "public")
#: figures of the last concurrency runs, printed by the pytest plugin
FIGURES: list[str] = []


class BareBackend:
    """Only the required protocol of another backend: the core's fallbacks do the rest."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def get(self, namespace: str, key: bytes) -> bytes | None:
        return self.inner.get(namespace, key)

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        self.inner.set(namespace, key, value, ttl)

    def delete(self, namespace: str, key: bytes) -> None:
        self.inner.delete(namespace, key)

    def close(self) -> None:
        """The inner backend is closed by its owner."""


def _ok(value: object) -> object:
    assert not isinstance(value, KvError | CasFailed), value
    return value


class KeyValueContractTests:
    """wasi:keyvalue on one backend; provide ``backend_url`` (as for `BackendContractTests`)."""

    def concurrency_url(self, backend_url: str) -> str:
        """The URL the 8 processes open; override to lengthen a lock timeout, say."""
        return backend_url

    @pytest.fixture
    def backend(self, backend_url: str) -> Iterator[TrackingBackend]:
        with tracked_backend(backend_url) as backend:
            yield backend

    @pytest.fixture(params=["native", "generic", "capi", "public"])
    def kv(self, request: pytest.FixtureRequest, backend: TrackingBackend) -> KeyValueHost:
        """A host with buckets "default" and "other"; `generic` hides the native capabilities;
        `capi` / `public`: native, through a guest on a host registered in that style."""
        if request.param in ("capi", "public"):
            return _host(backend, request.param)
        store: Backend = backend if request.param == "native" else BareBackend(backend)
        return _host(store)

    @pytest.fixture(params=["host", "capi", "public"])
    def path(self, request: pytest.FixtureRequest) -> str:
        """How the operations are reached: `KeyValueHost` itself, or a guest on either style."""
        return str(request.param)

    @pytest.fixture
    def native(self, backend: TrackingBackend, path: str) -> KeyValueHost:
        return _host(backend, path)

    def open(self, kv: KeyValueHost, name: str = "default") -> Bucket:
        bucket = kv.open(name)
        assert isinstance(bucket, Bucket), bucket
        return bucket

    # --- store ----------------------------------------------------------------------------
    def test_kv_open_only_allowed_buckets(self, native: KeyValueHost) -> None:
        assert self.open(native).namespace == native.namespace
        assert self.open(native, "other").namespace == f"{native.namespace}.other"
        for name in ("nope", "", "Other", "other.x", "../default"):
            assert native.open(name) == NO_SUCH_STORE, name

    def test_kv_store_round_trip(self, native: KeyValueHost) -> None:
        bucket = self.open(native)
        assert native.get(bucket, "k") is None
        assert native.exists(bucket, "k") is False
        assert native.set(bucket, "k", b"\x00value\xff") is None
        assert native.get(bucket, "k") == b"\x00value\xff"
        assert native.exists(bucket, "k") is True
        assert native.set(bucket, "k", b"") is None
        assert native.get(bucket, "k") == b""
        assert native.delete(bucket, "k") is None
        assert native.get(bucket, "k") is None
        assert native.delete(bucket, "k") is None

    def test_kv_default_bucket_is_the_cache_namespace(self, native: KeyValueHost,
                                                      backend: TrackingBackend) -> None:
        cache = GuestSession(backend, native.namespace)
        default, other = self.open(native), self.open(native, "other")
        assert cache.set("shared", b"from cache", None) is None
        assert native.get(default, "shared") == b"from cache"
        assert native.get(other, "shared") is None
        assert native.set(default, "back", b"from keyvalue") is None
        assert cache.get("back") == b"from keyvalue"
        assert GuestSession(backend, f"{native.namespace}.other").get("back") != b"from keyvalue"

    def test_kv_list_keys_pages_through_every_key_once(self, native: KeyValueHost) -> None:
        bucket, other = self.open(native), self.open(native, "other")
        keys = {f"item-{i:02}" for i in range(25)} | {"a\0b", ":", "*", "{tag}", "\u00e9"}
        assert native.set_many(bucket, [(key, b"v") for key in sorted(keys)]) is None
        assert native.set(other, "elsewhere", b"v") is None
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = _ok(native.list_keys(bucket, cursor))
            assert isinstance(page, tuple)
            seen += page[0]
            cursor = page[1]
            pages += 1
            assert pages < 1000
            if cursor is None:
                break
        assert set(seen) == keys
        assert pages > 1
        assert len(seen) - len(set(seen)) <= 2  # a scan may repeat a key; nothing is lost
        assert native.delete_many(bucket, sorted(keys)) is None
        assert _scan_all(native, bucket) == []

    def test_kv_list_keys_of_an_empty_bucket(self, native: KeyValueHost) -> None:
        assert _scan_all(native, self.open(native)) == []

    # --- atomics --------------------------------------------------------------------------
    def test_kv_increment(self, kv: KeyValueHost) -> None:
        bucket = self.open(kv)
        assert kv.increment(bucket, "n", 5) == 5
        assert kv.increment(bucket, "n", -7) == -2
        assert kv.increment(bucket, "n", 0) == -2
        assert kv.get(bucket, "n") == b"-2"
        assert kv.set(bucket, "n", b"40") is None
        assert kv.increment(bucket, "n", 2) == 42
        assert kv.increment(bucket, "big", 2**63 - 1) == 2**63 - 1
        overflow = kv.increment(bucket, "big", 1)
        assert isinstance(overflow, KvError) and overflow.case == "other"
        assert kv.get(bucket, "big") == str(2**63 - 1).encode()
        for value in (b"ten", b"", b" 1", b"1.5", b"\xff"):
            assert kv.set(bucket, "word", value) is None
            error = kv.increment(bucket, "word", 1)
            assert isinstance(error, KvError) and error.case == "other", value
            assert kv.get(bucket, "word") == value

    def test_kv_cas(self, kv: KeyValueHost) -> None:
        bucket = self.open(kv)
        cas = _ok(kv.cas_new(bucket, "balance"))
        assert cas.current is None  # type: ignore[union-attr]
        assert kv.swap(cas, b"100") is None  # type: ignore[arg-type]
        stale = _ok(kv.cas_new(bucket, "balance"))
        assert stale.current == b"100"  # type: ignore[union-attr]
        assert kv.set(bucket, "balance", b"150") is None
        lost = kv.swap(stale, b"90")  # type: ignore[arg-type]
        assert isinstance(lost, CasFailed) and lost.cas.current == b"150"
        assert kv.get(bucket, "balance") == b"150"
        assert kv.swap(lost.cas, b"140") is None
        assert kv.get(bucket, "balance") == b"140"
        # "absent" is a value too: a cas made before the key appeared loses
        absent = _ok(kv.cas_new(bucket, "late"))
        assert kv.set(bucket, "late", b"here") is None
        lost = kv.swap(absent, b"mine")  # type: ignore[arg-type]
        assert isinstance(lost, CasFailed) and lost.cas.current == b"here"
        # and a deleted key is absent again
        gone = _ok(kv.cas_new(bucket, "late"))
        assert kv.delete(bucket, "late") is None
        assert isinstance(kv.swap(gone, b"x"), CasFailed)  # type: ignore[arg-type]

    # --- batch ----------------------------------------------------------------------------
    def test_kv_batch(self, kv: KeyValueHost) -> None:
        bucket = self.open(kv)
        assert kv.set_many(bucket, []) is None
        assert kv.get_many(bucket, []) == []
        assert kv.delete_many(bucket, []) is None
        items = [("a", b"1"), ("b", b""), ("c\0", bytes(range(256)))]
        assert kv.set_many(bucket, items) is None
        assert kv.get_many(bucket, ["c\0", "missing", "a", "b", "a"]) == [
            ("c\0", bytes(range(256))), None, ("a", b"1"), ("b", b""), ("a", b"1")]
        assert kv.set_many(bucket, [("a", b"one")]) is None
        assert kv.get(bucket, "a") == b"one"
        assert kv.delete_many(bucket, ["a", "missing", "c\0"]) is None
        assert kv.get_many(bucket, ["a", "b", "c\0"]) == [None, ("b", b""), None]

    # --- errors and policy ----------------------------------------------------------------
    def test_kv_errors_say_what_and_leak_nothing(self, native: KeyValueHost,
                                                 backend_url: str) -> None:
        bucket = self.open(native)
        for error in (native.get(bucket, "k" * 251), native.set(bucket, "", b"v"),
                      native.set(bucket, "k", b"x" * (native.session.limits.max_value_bytes + 1)),
                      native.set_many(bucket, [("ok", b"v"), ("", b"v")]),
                      native.get_many(bucket, ["k" * 251])):
            assert isinstance(error, KvError) and error.case == "other", error
            assert error.message and backend_url not in error.message
        assert native.get(bucket, "ok") is None  # a refused batch wrote nothing

    def test_kv_policy(self, backend: TrackingBackend, path: str) -> None:
        namespace = unique_namespace()
        writer = _reach(GuestSession(backend, namespace), path)
        assert writer.set(self.open(writer), "pub:k", b"v") is None
        reader = _reach(GuestSession(backend, namespace, policy=Policy(
            access=Access.READ_ONLY, key_prefixes=("pub:",))), path)
        bucket = self.open(reader)
        assert reader.get(bucket, "pub:k") == b"v"
        assert reader.get(bucket, "secret") == ACCESS_DENIED
        assert reader.set(bucket, "pub:k", b"x") == ACCESS_DENIED
        assert reader.delete(bucket, "pub:k") == ACCESS_DENIED
        assert reader.increment(bucket, "pub:n", 1) == ACCESS_DENIED
        assert reader.set_many(bucket, [("pub:k", b"x")]) == ACCESS_DENIED
        assert reader.delete_many(bucket, ["pub:k"]) == ACCESS_DENIED
        cas = _ok(reader.cas_new(bucket, "pub:k"))
        assert reader.swap(cas, b"x") == ACCESS_DENIED  # type: ignore[arg-type]
        assert reader.get(bucket, "pub:k") == b"v"
        nobody = _reach(GuestSession(backend, namespace, policy=Policy(access=Access.NONE)), path)
        assert nobody.list_keys(self.open(nobody), None) == ACCESS_DENIED
        assert nobody.get(self.open(nobody), "pub:k") == ACCESS_DENIED
        assert writer.delete(self.open(writer), "pub:k") is None

    # --- concurrency ----------------------------------------------------------------------
    def test_kv_eight_processes_lose_no_increment_and_no_swap(self, backend_url: str,
                                                              backend: TrackingBackend,
                                                              tmp_path: Path) -> None:
        if backend_url.startswith("memory:"):
            pytest.skip("memory:// is one store per process: nothing to share between 8")
        namespace = unique_namespace()
        start = tmp_path / "start"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "wasmcache.testing.kvhammer",
             self.concurrency_url(backend_url), namespace,
             str(INCREMENTS), str(CAS_UPDATES), str(start), HAMMER_PATHS[index % 2]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for index in range(PROCESSES)]
        began = time.monotonic()
        try:
            time.sleep(0.2)
            start.touch()
            results = []
            for proc in procs:
                out, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err[-2000:]
                results.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            backend.written.update({(namespace, b"hits"), (namespace, b"cas-total")})
        elapsed = time.monotonic() - began
        assert [r["errors"] for r in results] == [[]] * PROCESSES
        assert sorted(r["path"] for r in results) == sorted(HAMMER_PATHS * (PROCESSES // 2))
        assert backend.get(namespace, b"hits") == str(PROCESSES * INCREMENTS).encode()
        assert sum(r["cas_done"] for r in results) == PROCESSES * CAS_UPDATES
        assert backend.get(namespace, b"cas-total") == str(PROCESSES * CAS_UPDATES).encode()
        native = sorted(KeyValueOps(backend).native)
        FIGURES.append(
            f"{type(self).__name__}: {PROCESSES}x{INCREMENTS} increments -> "
            f"{PROCESSES * INCREMENTS} ({sum(r['increment_cas_retries'] for r in results)} "
            f"cas retries inside increment); {PROCESSES}x{CAS_UPDATES} cas updates -> "
            f"{PROCESSES * CAS_UPDATES} ({sum(r['cas_conflicts'] for r in results)} conflicts "
            f"retried); {elapsed:.1f} s; native: {', '.join(native) or 'none'}")

    def test_kv_capabilities_are_known_names(self, backend: TrackingBackend) -> None:
        assert set(KeyValueOps(backend).native) <= set(CAPABILITIES)


def _host(backend: Backend, path: str = "host") -> KeyValueHost:
    """A keyvalue host in a fresh namespace, with bucket "other" and pages of 7 keys, reached
    by `path`."""
    return _reach(GuestSession(backend, unique_namespace(), buckets=("other",), keys_per_page=7),
                  path)


def _reach(session: GuestSession, path: str) -> KeyValueHost:
    """`KeyValueHost` over `session` (path "host"), or the same methods through a guest nested
    with the keyvalue adapter on a host registered in style `path`."""
    if path == "host":
        return KeyValueHost(session)
    return GuestKeyValue(session, path)  # type: ignore[return-value]


def _scan_all(kv: KeyValueHost, bucket: Bucket) -> list[str]:
    """Every key listed in `bucket`, following the cursor."""
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        page = _ok(kv.list_keys(bucket, cursor))
        assert isinstance(page, tuple)
        seen += page[0]
        cursor = page[1]
        if cursor is None:
            return seen
    raise AssertionError("list-keys never ended")


#: The guest profiles the keyvalue example guest's CLI runs use (write it as wasmcache.toml).
KEYVALUE_PROFILES = """\
[guests.kv]
buckets = ["archive"]
keys_per_page = 10

[guests.ro]
access = "read-only"
key_prefixes = ["shared"]
"""


def check_keyvalue_guest(run_cli: Any, kv_guest: Path, cache_guest: Path | None, url: str,
                         cwd: Path, expected: Path) -> None:
    """Run examples/keyvalue_guest through the CLI on `url`: the tour and the read-only profile
    on both registration styles (``WASMCACHE_FAST_PATH`` 1 and 0: the guest is nested with the
    keyvalue adapter either way) and (with `cache_guest`, for a store that outlives a process)
    data shared with a wasmcache:cache guest of the same namespace. Every output must equal the
    expected files in `expected` (the guest's source folder: expected_output.txt,
    expected_readonly.txt). ``run_cli(*args, env=..., cwd=...)`` runs ``wasmcache``."""
    source = expected
    (cwd / "wasmcache.toml").write_text(KEYVALUE_PROFILES)
    namespace = unique_namespace()

    def run(guest: Path, profile: str | None, *args: str, fast: str = "1") -> str:
        extra = ("--guest", profile) if profile else ()
        done = run_cli("run", "--backend", url, "--namespace", namespace, *extra, str(guest),
                       *args, cwd=cwd, env={"WASMCACHE_FAST_PATH": fast})
        assert done.returncode == 0, (fast, done.stdout, done.stderr)
        return str(done.stdout)

    for fast in ("1", "0"):
        assert run(kv_guest, "kv", fast=fast) == (source / "expected_output.txt").read_text()
        assert run(kv_guest, "ro", "readonly", fast=fast) == (
            source / "expected_readonly.txt").read_text()
    if cache_guest is None:
        return
    assert run(cache_guest, None, "set", "shared", "from the cache") == "set shared: ok\n"
    assert run(kv_guest, None, "get", "shared") == "get shared: 'from the cache'\n"
    assert run(kv_guest, None, "set", "from-kv", "hello") == "set from-kv: ok\n"
    assert run(cache_guest, None, "get", "from-kv") == "get from-kv: 'hello' (5 bytes)\n"
    assert run(kv_guest, "ro", "readonly").startswith("get shared: 'from the cache'\n")
