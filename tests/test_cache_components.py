"""`wasmcache run --cache-component`: the guest's cache served by other components, composed
inside WebAssembly (wasmcache.compose.layers), through the CLI.

The Python example guest prints its tour served by examples/lru_cache (no host call at all),
by examples/compress_cache over every backend (whose stored bytes are read back from the
backend itself), and by the two layered; the contract suite passes on compress_cache (on
lru_cache: tests/test_lru_cache.py); a component sees the guest's WASI context and nothing
more; bad --cache-component files get one line and exit 2 before the guest runs. Servers and
the C toolchain: scripts/ensure-services.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path
from subprocess import CompletedProcess

import guest_cli
import pytest
import wasmtime
from build import build_c_component, build_guest
from guest_cli import TOUR_OUTPUT
from wasmcache import open_backend
from wasmcache.backends.memory import MemoryBackend
from wasmcache.runner import GuestOptions, run_guest
from wasmcache.session import GuestSession
from wasmcache.testing.component import ComponentCache, ComponentContractTests
from wasmcache.testing.contract import unique_namespace

from conftest import RunCli

pytestmark = pytest.mark.slow

MAGIC = b"\x89WCZ\r\n\x1a\n"  # examples/compress_cache/app.py
HEADER_BYTES = len(MAGIC) + 9
#: 100 KiB of text that deflates about 20-fold (each line differs, as real data does)
COMPRESSIBLE = "".join(f"line {n:05d}: the quick brown fox jumps over the lazy dog\n"
                       for n in range(2000))[:100 * 1024]
PERSISTENT = ["disk", "sqlite", "postgresql", "mysql", "redis"]


@pytest.fixture(scope="session")
def lru_wasm() -> Path:
    return build_c_component("lru_cache")


@pytest.fixture(scope="session")
def compress_wasm() -> Path:
    return build_guest("compress_cache")


@pytest.fixture(scope="session")
def c_guest() -> Path:
    """examples/hello_cache_c: prints what the Python guest prints, and composes in a blink."""
    return build_c_component("hello_cache_c")


@pytest.fixture(scope="session")
def small_guest(wat_guest) -> Path:  # type: ignore[no-untyped-def]
    """tests/guests/cache_delete.wat: a command guest whose run deletes "k" (fast to compose)."""
    return wat_guest("cache_delete")


def host_calls(stderr: str) -> dict[str, int]:
    """The `calls` column of --stats for set, get and delete."""
    rows = [line.split() for line in stderr.splitlines()]
    return {row[0]: int(row[1]) for row in rows if row and row[0] in ("set", "get", "delete")}


def one_error_line(done: CompletedProcess[str]) -> str:
    """The single `wasmcache: error: ...` line of a refused run (exit 2, nothing else)."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wasmcache: error: "), done.stderr
    return lines[0].removeprefix("wasmcache: error: ")


# --- served by lru_cache: no host call ------------------------------------------------------

def test_the_tour_served_by_lru_cache_never_calls_the_host(run_cli: RunCli, hello_guest: Path,
                                                           lru_wasm: Path) -> None:
    done = run_cli("run", "--stats", "-b", "memory://", "--cache-component", str(lru_wasm),
                   str(hello_guest))
    assert (done.returncode, done.stdout) == (0, TOUR_OUTPUT), done.stderr
    assert host_calls(done.stderr) == {"set": 0, "get": 0, "delete": 0}


def test_compress_over_lru_layers_inside_webassembly(run_cli: RunCli, hello_guest: Path,
                                                     compress_wasm: Path, lru_wasm: Path) -> None:
    """Two layers, two languages: guest -> compress_cache -> lru_cache, still no host call."""
    done = run_cli("run", "--stats", "-b", "memory://", "--cache-component", str(compress_wasm),
                   "--cache-component", str(lru_wasm), str(hello_guest))
    assert (done.returncode, done.stdout) == (0, TOUR_OUTPUT), done.stderr
    assert host_calls(done.stderr) == {"set": 0, "get": 0, "delete": 0}


@pytest.mark.parametrize("layer", ["lru_cache", "compress_cache"])
def test_the_c_guest_tour_served_by_a_component(run_cli: RunCli, layer: str, c_guest: Path,
                                                lru_wasm: Path, compress_wasm: Path) -> None:
    """The C guest (WASI 0.2.12 through its adapter) beside a Python component (WASI 0.2.9):
    each gets the host's WASI instances of the version it imports."""
    component = lru_wasm if layer == "lru_cache" else compress_wasm
    done = run_cli("run", "-b", "memory://", "--cache-component", str(component),
                   str(c_guest))
    assert (done.returncode, done.stdout, done.stderr) == (0, TOUR_OUTPUT, "")


# --- served by compress_cache over every backend ----------------------------------------------

@pytest.fixture
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of the backend named by the test's parameter, with its own table/prefix/dir."""
    yield from guest_cli.backend_url(request, tmp_path)


def test_the_tour_served_by_compress_cache_over_memory(run_cli: RunCli, hello_guest: Path,
                                                       compress_wasm: Path) -> None:
    done = run_cli("run", "--stats", "-b", "memory://", "--cache-component", str(compress_wasm),
                   str(hello_guest))
    assert (done.returncode, done.stdout) == (0, TOUR_OUTPUT), done.stderr
    calls = host_calls(done.stderr)  # the middleware passes every valid call down
    assert calls["set"] >= 5 and calls["get"] >= 5 and calls["delete"] >= 2, done.stderr


def test_compress_cache_over_memory_stores_fewer_bytes(capfd: pytest.CaptureFixture[str],
                                                       hello_guest: Path,
                                                       compress_wasm: Path) -> None:
    """memory:// lives as long as one run: the run is in-process, the backend object read
    afterwards."""
    backend, namespace = MemoryBackend(), unique_namespace()
    options = GuestOptions(namespace=namespace, cache_components=[compress_wasm],
                           args=["set", "big", COMPRESSIBLE])
    assert run_guest(hello_guest, backend, options) == 0
    stored = backend.get(namespace, b"big")
    assert stored is not None and stored.startswith(MAGIC) and len(stored) < 20 * 1024
    assert capfd.readouterr().out == "set big: ok\n"


@pytest.mark.parametrize("backend_url", PERSISTENT, indirect=True)
def test_compress_cache_over_a_backend(backend_url: str, run_cli: RunCli, hello_guest: Path,
                                       compress_wasm: Path) -> None:
    """The tour; a 100 KiB value stored in well under 20 KiB and read back exactly; a value
    written straight into the backend, header-like but not a header, read back as it is.

    The 100 KiB value is read back through the same composition under the test's mirror
    guest: hello_cache's CPython loses what it prints past 64 KiB (the C guest does not)."""
    namespace = unique_namespace()

    def run(*args: str) -> tuple[int, str]:
        done = run_cli("run", "-b", backend_url, "-n", namespace, "--cache-component",
                       str(compress_wasm), str(hello_guest), *args)
        return done.returncode, done.stdout

    assert run() == (0, TOUR_OUTPUT)
    assert run("set", "big", COMPRESSIBLE) == (0, "set big: ok\n")
    foreign = MAGIC + b"\x01" + b"\x00\x00\x00\x10" + b"not deflate, not a crc either"
    backend = open_backend(backend_url)
    try:
        stored = backend.get(namespace, b"big")
        backend.set(namespace, b"foreign", foreign, None)
        layered = ComponentCache([compress_wasm], GuestSession(backend, namespace))
        assert layered.get("big") == COMPRESSIBLE.encode()
    finally:
        backend.close()
    assert stored is not None and stored.startswith(MAGIC), stored[:20]
    assert len(stored) < 20 * 1024, len(stored)
    assert zlib.decompress(stored[HEADER_BYTES:], -15) == COMPRESSIBLE.encode()
    code, out = run("get", "foreign")
    assert code == 0 and printed_value(out) == foreign


def printed_value(line: str) -> bytes:
    """The value hello_cache printed for `get KEY`: it prints repr() of the value decoded with
    backslashreplace, so a byte that is not UTF-8 comes back from its \\xHH escape."""
    text = ast.literal_eval(line.split(": ", 1)[1].rsplit(" (", 1)[0])
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), text.encode())


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_values_written_without_the_middleware_read_back(backend_url: str, run_cli: RunCli,
                                                         hello_guest: Path,
                                                         compress_wasm: Path) -> None:
    """A guest that runs without compress_cache and one that runs with it share keys."""
    namespace = unique_namespace()
    text = COMPRESSIBLE[:4096]

    def run(*args: str, layered: bool) -> tuple[int, str]:
        layer = ["--cache-component", str(compress_wasm)] if layered else []
        done = run_cli("run", "-b", backend_url, "-n", namespace, *layer, str(hello_guest),
                       *args)
        return done.returncode, done.stdout

    assert run("set", "plain", text, layered=False) == (0, "set plain: ok\n")
    assert run("get", "plain", layered=True) == (0, f"get plain: {text!r} (4096 bytes)\n")
    assert run("set", "packed", text, layered=True) == (0, "set packed: ok\n")
    code, out = run("get", "packed", layered=False)  # the plain guest sees the stored form
    assert code == 0 and out.endswith(" bytes)\n") and int(out.rsplit("(", 1)[1].split()[0]) < 1024


# --- compress_cache's format, byte for byte ---------------------------------------------------

@pytest.fixture
def compress(compress_wasm: Path) -> tuple[ComponentCache, MemoryBackend, str]:
    backend, namespace = MemoryBackend(), unique_namespace()
    return ComponentCache([compress_wasm], GuestSession(backend, namespace)), backend, namespace


@pytest.mark.parametrize("value", [b"", b"small", os.urandom(100 * 1024), COMPRESSIBLE[:1023]
                                   .encode()], ids=["empty", "small", "random", "under-1KiB"])
def test_values_it_cannot_shrink_are_stored_as_they_are(compress, value: bytes) -> None:
    cache, backend, namespace = compress
    assert cache.set("k", value, None) is None
    assert backend.get(namespace, b"k") == value
    assert cache.get("k") == value


@pytest.mark.parametrize("value", [MAGIC, MAGIC + b"\x00" * 9, MAGIC + os.urandom(5000)],
                         ids=["magic", "magic-and-a-header", "magic-and-random"])
def test_a_value_that_starts_like_a_header_is_wrapped_so_it_reads_back(compress,
                                                                      value: bytes) -> None:
    cache, backend, namespace = compress
    assert cache.set("k", value, None) is None
    stored = backend.get(namespace, b"k")
    assert stored is not None and stored[:HEADER_BYTES - 8] == MAGIC + b"\x00"  # STORED
    assert stored[HEADER_BYTES:] == value
    assert cache.get("k") == value


def _header(method: int, original: bytes) -> bytes:
    return (MAGIC + bytes([method]) + len(original).to_bytes(4, "big")
            + zlib.crc32(original).to_bytes(4, "big"))


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(data) + packer.flush()


TEXT = COMPRESSIBLE[:5000].encode()
NOT_HEADERS = {
    "truncated header": MAGIC + b"\x01\x00\x00",
    "unknown method": _header(7, TEXT) + TEXT,
    "wrong crc": _header(1, TEXT)[:-1] + b"\x00" + _deflate(TEXT),
    "wrong length": MAGIC + b"\x01" + (len(TEXT) + 1).to_bytes(4, "big")
                    + zlib.crc32(TEXT).to_bytes(4, "big") + _deflate(TEXT),
    "trailing bytes": _header(1, TEXT) + _deflate(TEXT) + b"x",
    "cut short": _header(1, TEXT) + _deflate(TEXT)[:-10],
    "not deflate": _header(1, TEXT) + TEXT,
    "over 1 MiB inflated": MAGIC + b"\x01" + (2 << 20).to_bytes(4, "big") + b"\0\0\0\0"
                           + _deflate(bytes(2 << 20)),
}


@pytest.mark.parametrize("stored", NOT_HEADERS.values(), ids=NOT_HEADERS.keys())
def test_what_is_not_a_well_formed_header_reads_back_as_plain_data(compress,
                                                                   stored: bytes) -> None:
    cache, backend, namespace = compress
    backend.set(namespace, b"k", stored, None)
    assert cache.get("k") == stored


def test_a_well_formed_value_written_by_another_writer_is_restored(compress) -> None:
    cache, backend, namespace = compress
    backend.set(namespace, b"k", _header(1, TEXT) + _deflate(TEXT), None)
    assert cache.get("k") == TEXT


class TestCompressCacheContract(ComponentContractTests):
    """The whole contract on compress_cache over the host's memory backend (what it does not
    check itself, the host's session does, below it)."""

    @pytest.fixture
    def cache_components(self, compress_wasm: Path) -> list[Path]:
        return [compress_wasm]


# --- the WASI context: the guest's, nothing more ------------------------------------------------

def test_a_component_sees_the_guests_wasi_context_and_nothing_more(
        run_cli: RunCli, c_guest: Path, wat_guest) -> None:  # type: ignore[no-untyped-def]
    """tests/guests/spy_cache.wat answers a get with what WASI shows it: no environment
    variable (the host process has many; the guest gets none), no preopened directory, and
    exactly the guest's arguments."""
    done = run_cli("run", "-b", "memory://", "--cache-component", str(wat_guest("spy_cache")),
                   str(c_guest), "get", "spy", env={"WASMCACHE_SPY_SECRET": "leaked"})
    assert done.returncode == 0, done.stderr
    assert printed_value(done.stdout) == b"\x00\x00hello_cache_c.wasm\x00get\x00spy\x00"


@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_a_component_may_use_wasi_keyvalue_with_the_guests_namespace_and_policy(
        backend_url: str, run_cli: RunCli, c_guest: Path, wat_guest,  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    """tests/guests/keyvalue_cache.wat stores through wasi:keyvalue's default bucket: what it
    stores is the guest's namespace's, and the guest's profile (read-only here) holds for it."""
    namespace = unique_namespace()
    config = tmp_path / "wasmcache.toml"
    config.write_text(f'backend = "{backend_url}"\nnamespace = "{namespace}"\n'
                      '[guests.reader]\naccess = "read-only"\n')
    layer = ["--cache-component", str(wat_guest("keyvalue_cache"))]

    def run(*args: str) -> tuple[int, str]:
        done = run_cli("run", "--config", str(config), *args)
        return done.returncode, done.stdout

    assert run(*layer, str(c_guest), "set", "k", "hello") == (0, "set k: ok\n")
    assert run(str(c_guest), "get", "k") == (0, "get k: 'hello' (5 bytes)\n")
    assert run("-g", "reader", *layer, str(c_guest), "set", "k", "other") == (
        1, "set k: error unavailable\n")  # access-denied below, mapped by the component
    assert run("-g", "reader", *layer, str(c_guest), "get", "k") == (
        0, "get k: 'hello' (5 bytes)\n")


# --- refusals --------------------------------------------------------------------------------

def _text_file(tmp_path: Path, _wat_guest) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "notes.txt"
    path.write_text("not wasm")
    return path


def _core_module(tmp_path: Path, _wat_guest) -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / "core.wasm"
    path.write_bytes(wasmtime.wat2wasm("(module)"))
    return path


BAD_COMPONENTS = {
    "missing": (lambda tmp, _: tmp / "missing.wasm",
                "cannot read cache component '{}': No such file or directory"),
    "not-wasm": (_text_file, "cache component {}: not a WebAssembly file (no \\0asm header)"),
    "core-module": (_core_module, "cache component {}: a core WebAssembly module, not a "
                                  "component"),
    "no-export": (lambda _, wat: wat("err"), "cache component {}: does not export "
                  "wasmcache:cache/cache@0.1.0 (it exports wasi:cli/run@0.2.0)"),
    "wrong-signature": (lambda _, wat: wat("wrong_signature_cache"),
                        "cache component {}: its wasmcache:cache/cache@0.1.0 export does not "
                        "have the interface's exact signatures: type mismatch in instance "
                        "export `get`: type mismatch with result type: type mismatch in ok "
                        "variant: expected list, found string"),
}


@pytest.mark.parametrize("case", BAD_COMPONENTS)
def test_bad_cache_components_get_one_line_and_exit_2(case: str, run_cli: RunCli,
                                                      small_guest: Path, wat_guest,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path) -> None:
    make, message = BAD_COMPONENTS[case]
    path = str(make(tmp_path, wat_guest))
    done = run_cli("run", "-b", "memory://", "--cache-component", path, str(small_guest))
    assert one_error_line(done) == message.format(path)


def test_a_guest_without_the_cache_import_is_refused(run_cli: RunCli, wat_guest,  # type: ignore[no-untyped-def]
                                                     lru_wasm: Path) -> None:
    """Decided: --cache-component for a guest that cannot use it is a mistake, not ignored."""
    guest = wat_guest("err")
    done = run_cli("run", "-b", "memory://", "--cache-component", str(lru_wasm), str(guest))
    assert one_error_line(done) == (
        f"{guest}: does not import wasmcache:cache/cache@0.1.0, so its cache component "
        f"{lru_wasm} would never be called; run it without --cache-component (or without "
        "the profile's cache_components)")


def test_a_layer_that_would_never_call_the_next_is_refused(run_cli: RunCli, small_guest: Path,
                                                           lru_wasm: Path,
                                                           compress_wasm: Path) -> None:
    done = run_cli("run", "-b", "memory://", "--cache-component", str(lru_wasm),
                   "--cache-component", str(compress_wasm), str(small_guest))
    assert one_error_line(done) == (
        f"cache component {lru_wasm}: does not import wasmcache:cache/cache@0.1.0, so the "
        f"next cache component ({compress_wasm}) would never be called")


# --- compiled once, the guest unchanged; profiles ------------------------------------------

def test_the_composition_is_compiled_once_and_the_guest_file_is_unchanged(
        run_cli: RunCli, small_guest: Path, lru_wasm: Path, wat_guest,  # type: ignore[no-untyped-def]
        tmp_path: Path) -> None:
    cache = tmp_path / "compiled"
    env = {"WASMCACHE_COMPILE_CACHE": str(cache)}
    before = hashlib.sha256(small_guest.read_bytes()).hexdigest()
    for _ in range(2):
        done = run_cli("run", "--stats", "-b", "memory://", "--cache-component", str(lru_wasm),
                       str(small_guest), env=env)
        assert done.returncode == 0 and host_calls(done.stderr)["delete"] == 0, done.stderr
    first = sorted(path.name for path in cache.iterdir())
    assert len(first) == 1 and "-layers" in first[0]
    spy = run_cli("run", "-b", "memory://", "--cache-component", str(wat_guest("spy_cache")),
                  str(small_guest), env=env)
    assert spy.returncode == 0, spy.stderr
    assert len(list(cache.iterdir())) == 2  # another component: another key
    assert hashlib.sha256(small_guest.read_bytes()).hexdigest() == before


def test_a_profile_names_cache_components_relative_to_its_file(run_cli: RunCli,
                                                               small_guest: Path,
                                                               lru_wasm: Path,
                                                               tmp_path: Path) -> None:
    (tmp_path / "impls").mkdir()
    shutil.copy(lru_wasm, tmp_path / "impls" / "lru.wasm")
    (tmp_path / "conf").mkdir()
    config = tmp_path / "conf" / "wasmcache.toml"
    config.write_text('backend = "memory://"\n[guests.small]\nwasm = "*cache_delete*"\n'
                      'cache_components = ["../impls/lru.wasm"]\n'
                      '[guests.broken]\ncache_components = ["missing.wasm"]\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_cli("run", "--stats", "--config", str(config), str(small_guest), cwd=elsewhere)
    assert done.returncode == 0 and host_calls(done.stderr)["delete"] == 0, done.stderr
    shown = run_cli("config", "show", "--config", str(config), str(small_guest), cwd=elsewhere)
    assert f'cache_components = ["{tmp_path / "impls" / "lru.wasm"}"]' in shown.stdout
    broken = run_cli("run", "--config", str(config), "-g", "broken", str(small_guest))
    missing = tmp_path / "conf" / "missing.wasm"
    assert one_error_line(broken).startswith(f"cannot read cache component '{missing}'")
    flag = run_cli("run", "--stats", "--config", str(config), "-g", "broken",
                   "--cache-component", str(lru_wasm), str(small_guest))  # the flag wins
    assert flag.returncode == 0 and host_calls(flag.stderr)["delete"] == 0, flag.stderr


def test_a_profile_with_a_bad_cache_components_value_is_refused(run_cli: RunCli,
                                                               tmp_path: Path) -> None:
    config = tmp_path / "wasmcache.toml"
    config.write_text('[guests.x]\ncache_components = "lru.wasm"\n')
    done = run_cli("config", "check", str(config))
    assert one_error_line(done) == (f"{config}: guests.x.cache_components: expected an array "
                                    "of .wasm paths, got str 'lru.wasm'")
