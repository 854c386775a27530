"""wasi:keyvalue in the core: profiles, the CLI on memory://, sharing with a cache guest, the
`backends` column, the generic fallbacks and wasmtime-py's lowering bug (worked around without
changing wasmtime-py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from build import build_guest
from wasmcache import GuestOptions, GuestSession, open_backend, run_guest
from wasmcache.capabilities import CAPABILITIES, KeyValueOps, native_capabilities
from wasmcache.config import Config, ConfigError, load_config, parse_config
from wasmcache.keyvalue import KeyValueHost, KvError
from wasmcache.testing import unique_namespace
from wasmcache.testing.keyvalue import KEYVALUE_PROFILES, BareBackend, check_keyvalue_guest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "keyvalue_guest"


def load_config_text(text: str) -> Config:
    return parse_config(tomllib.loads(text), "wasmcache.toml")


@pytest.fixture(scope="session")
def kv_guest() -> Path:
    return build_guest("keyvalue_guest", world="keyvalue-command")


# --- profiles ---------------------------------------------------------------------------------
def test_profile_buckets_and_page_size(tmp_path: Path) -> None:
    path = tmp_path / "wasmcache.toml"
    path.write_text('[guests.a]\nnamespace = "shop"\nbuckets = ["orders", "default", "x_1-2"]\n'
                    "keys_per_page = 7\n[guests.b]\n")
    config = load_config(path)
    assert config.guests["a"].buckets == ("orders", "x_1-2")
    assert config.guests["a"].keys_per_page == 7
    assert config.guests["b"].buckets == () and config.guests["b"].keys_per_page == 100


@pytest.mark.parametrize(("text", "message"), [
    ('buckets = "orders"', "guests.w.buckets: expected an array of bucket names, got str"),
    ("buckets = [1]", "guests.w.buckets: expected an array of bucket names, got 1"),
    ('buckets = ["a.b"]', "guests.w.buckets: bucket 'a.b': expected 1-63 characters of"),
    ('buckets = [""]', "guests.w.buckets: bucket '': expected 1-63 characters of"),
    ('namespace = "' + "n" * 60 + '"\nbuckets = ["long"]',
     "is longer than the 64 characters a namespace may have"),
    ('buckets = ["a", "a"]', "guests.w.buckets: bucket 'a' is listed twice"),
    ("keys_per_page = 0", "guests.w.keys_per_page: expected 1 to 10000, got 0"),
    ("keys_per_page = 10001", "guests.w.keys_per_page: expected 1 to 10000, got 10001"),
    ('keys_per_page = "ten"', "guests.w.keys_per_page: expected a non-negative integer"),
])
def test_each_profile_error_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "wasmcache.toml"
    path.write_text(f"[guests.w]\n{text}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_config_show_prints_buckets(run_cli, tmp_path: Path) -> None:
    (tmp_path / "wasmcache.toml").write_text(KEYVALUE_PROFILES)
    shown = run_cli("config", "show", "--guest", "kv", "--backend", "memory://")
    assert shown.returncode == 0, shown.stderr
    assert 'buckets = ["default", "archive"]\nkeys_per_page = 10\n' in shown.stdout


# --- the CLI and the Python API ---------------------------------------------------------------
def test_keyvalue_guest_on_memory(run_cli, kv_guest: Path, tmp_path: Path) -> None:
    check_keyvalue_guest(run_cli, kv_guest, None, "memory://", tmp_path,
                         EXAMPLE)


def test_cache_and_keyvalue_guests_share_a_namespace(kv_guest: Path, hello_guest: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    """memory:// lives as long as the process, so both guests run in this one."""
    backend = open_backend(f"memory://{unique_namespace()}")
    namespace = unique_namespace()

    def run(guest: Path, *args: str) -> str:
        assert run_guest(guest, backend, GuestOptions(namespace=namespace, args=args)) == 0
        return capfd.readouterr().out

    assert run(hello_guest, "set", "k", "v") == "set k: ok\n"
    assert run(kv_guest, "get", "k") == "get k: 'v'\n"
    assert run(kv_guest, "set", "k2", "w") == "set k2: ok\n"
    assert run(hello_guest, "get", "k2") == "get k2: 'w' (1 bytes)\n"
    assert GuestSession(backend, namespace).get("k2") == b"w"


def test_a_cache_only_guest_still_runs_with_keyvalue_linked(run_cli, hello_guest: Path) -> None:
    done = run_cli("run", "--backend", "memory://", str(hello_guest), "set", "k", "v")
    assert (done.returncode, done.stdout) == (0, "set k: ok\n")


def test_a_bucket_too_long_for_a_flag_namespace_is_one_line(run_cli, kv_guest: Path,
                                                            tmp_path: Path) -> None:
    (tmp_path / "wasmcache.toml").write_text(KEYVALUE_PROFILES)
    done = run_cli("run", "--backend", "memory://", "--guest", "kv", "-n", "n" * 60,
                   str(kv_guest))
    assert done.returncode == 2
    assert done.stderr == ("wasmcache: error: bucket 'archive' of namespace '" + "n" * 60
                           + "': " + "n" * 60 + ".archive is longer than the 64 characters a "
                           "namespace may have\n")


# --- wasmtime-py's lowering bug ---------------------------------------------------------------
def _wasmtime_py_classes() -> dict[str, object]:
    """Every function attribute of every class wasmtime-py's component package defines."""
    import wasmtime.component._types as types

    return {f"{cls.__name__}.{name}": value
            for cls in vars(types).values() if isinstance(cls, type)
            for name, value in vars(cls).items() if callable(value)}


def test_wasmtime_py_is_unchanged_after_linking_and_running_a_keyvalue_guest(
        kv_guest: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The bucket.get error (access-denied for a read-only profile) reaches the guest through
    the keyvalue adapter, its private answer written by wasmcache's own raw callback; no class
    or function of wasmtime-py is replaced to do it."""
    before = _wasmtime_py_classes()
    policy = load_config_text(KEYVALUE_PROFILES).guests["ro"].policy
    backend = open_backend(f"memory://{unique_namespace()}")
    assert run_guest(kv_guest, backend, GuestOptions(namespace=unique_namespace(),
                                                     policy=policy, args=["readonly"])) == 0
    assert capfd.readouterr().out == (EXAMPLE / "expected_readonly.txt").read_text()
    assert _wasmtime_py_classes() == before


def test_the_public_api_answers_errors_of_get_through_the_adapter(run_cli, kv_guest: Path,
                                                                  tmp_path: Path) -> None:
    """bucket.get -> result<option<list<u8>>, error>: wasmtime-py 50's public API cannot lower
    its error (its untagged-result lowering tries `ok` first, and option claims every value).
    The guest, nested with the keyvalue adapter, calls the private `get`, whose `none` is an
    error case of its own, so with WASMCACHE_FAST_PATH=0 a read-only guest gets access-denied
    as on the C-API style (the trap remains only for a guest the wrapper cannot handle:
    tests/test_keyvalue_fastpath.py)."""
    (tmp_path / "wasmcache.toml").write_text(KEYVALUE_PROFILES)
    done = run_cli("run", "--backend", "memory://", "--guest", "ro", str(kv_guest), "readonly",
                   env={"WASMCACHE_FAST_PATH": "0"})
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == (EXAMPLE / "expected_readonly.txt").read_text()
    assert "get secret (outside the key prefixes): error access-denied\n" in done.stdout


# --- capabilities -------------------------------------------------------------------------------
def test_backends_shows_declared_capabilities(run_cli) -> None:
    done = run_cli("backends")
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[3] for line in done.stdout.splitlines()[1:]}
    assert rows["memory://"] == "usage,incr,cas,mget,mset,mdel,list,describe"
    assert done.stdout.splitlines()[0].split()[3] == "CAPABILITIES"


def test_memory_has_every_capability_and_a_bare_backend_none(wasmcache_memory_url: str) -> None:
    """memory:// has every optional method but `check` (there is nothing to connect to)."""
    backend = open_backend(wasmcache_memory_url)
    assert native_capabilities(backend) == tuple(c for c in CAPABILITIES if c != "check")
    assert KeyValueOps(BareBackend(backend)).native == frozenset()


def test_without_list_keys_listing_is_an_error_not_a_trap(wasmcache_memory_url: str) -> None:
    host = KeyValueHost(GuestSession(BareBackend(open_backend(wasmcache_memory_url)),
                                     unique_namespace()))
    bucket = host.open("default")
    assert not isinstance(bucket, KvError)
    assert host.list_keys(bucket, None) == KvError(
        "other", "this backend cannot list keys (it has no list_keys)")


def test_a_bad_cursor_is_an_error(wasmcache_memory_url: str) -> None:
    host = KeyValueHost(GuestSession(open_backend(wasmcache_memory_url), unique_namespace()))
    bucket = host.open("default")
    assert not isinstance(bucket, KvError)
    assert host.list_keys(bucket, "not hex") == KvError(
        "other", "invalid cursor: pass back the cursor of the last page")


def test_generic_increment_without_cas_is_one_process_only(wasmcache_memory_url: str) -> None:
    """The last-resort fallback: get + set under a process lock (documented as such)."""
    ops = KeyValueOps(BareBackend(open_backend(wasmcache_memory_url)))
    assert [ops.increment("ns", b"n", 2) for _ in range(3)] == [2, 4, 6]
    assert ops.compare_and_swap("ns", b"n", b"6", b"7") is True
    assert ops.compare_and_swap("ns", b"n", b"6", b"8") is False


def test_add_to_linker_links_a_keyvalue_guest_for_embedders(kv_guest: Path,
                                                            wasmcache_memory_url: str) -> None:
    from wasmcache import add_to_linker
    from wasmcache.runner import load_guest, make_engine
    from wasmtime import Store, WasiConfig
    from wasmtime.component import Linker

    engine = make_engine()
    component = load_guest(engine, kv_guest)
    for keyvalue in (True, False):
        linker = Linker(engine)
        linker.add_wasip2()
        add_to_linker(linker, GuestSession(open_backend(wasmcache_memory_url), "emb"),
                      keyvalue=keyvalue)
        store = Store(engine)
        store.set_epoch_deadline(2**62)
        store.set_wasi(WasiConfig())
        if keyvalue:
            linker.instantiate(store, component)
        else:
            with pytest.raises(Exception, match="keyvalue"):
                linker.instantiate(store, component)
