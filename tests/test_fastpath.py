"""The two registration styles agree byte for byte, through real guests.

A small WAT guest (`mirror_guest_wat`) re-exports the cache interface with Latin-1 string
payloads, so these tests can send 1 MiB values from Python cheaply; it runs on four hosts: the
public ``add_func`` style or raw C-API callbacks (`wasmcache.wire`), each with the guest
unwrapped or wrapped with the payload adapter.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import wasmtime
from wasmcache import GuestSession, Limits
from wasmcache.backends.memory import MemoryBackend
from wasmcache.compose import PrivateImport, prepare_component
from wasmcache.compose.adapter import floor_adapter_wat, mirror_guest_wat
from wasmcache.compose.nest import is_wrapped, wrap
from wasmcache.errors import BackendUnavailable
from wasmcache.linker import add_to_linker
from wasmcache.wire.table import ERROR_CASES
from wasmtime.component import Component, Linker

from conftest import FailingBackend

ROOT = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
ENGINE = wasmtime.Engine()
MIRROR = wasmtime.wat2wasm(mirror_guest_wat())
CONFIGS = [("public", False), ("public", True), ("capi", False), ("capi", True)]

VALUES = {
    "empty": b"",
    "100": bytes(range(100)),
    "all-bytes": bytes(range(256)),
    "1mib": (bytes(range(256)) * 4096)[::-1],
    "1mib+1": b"\xff" * (MIB + 1),
}
KEYS = ["k", "nul\x00key", "caf\u00e9/\U0001F600", "\u00e9" * 125, "x" * 250, "x" * 251, "",
        "\U0001F600" * 62 + "ab", "\U0001F600" * 63]


class Guest:
    """One instance of the mirror guest on a host registered in `style` and maybe wrapped."""

    def __init__(self, host: GuestSession, style: str, wrapped: bool, wasm: bytes | None = None
                 ) -> None:
        if wasm is None:
            wasm = prepare_component(MIRROR) if wrapped else MIRROR
        assert is_wrapped(wasm) == wrapped
        linker = Linker(ENGINE)
        add_to_linker(linker, host, style=style)
        self.store = wasmtime.Store(ENGINE)
        instance = linker.instantiate(self.store, Component(ENGINE, wasm))
        self.funcs = {name: instance.get_func(self.store, instance.get_export_index(
            self.store, name)) for name in ("set", "get", "delete")}

    @staticmethod
    def _out(result: object) -> object:
        if isinstance(result, int):
            return ERROR_CASES[result]
        if isinstance(result, str):
            return result.encode("latin-1")
        return result

    def set(self, key: str, value: bytes, ttl: int | None) -> object:
        return self._out(self.funcs["set"](self.store, key, value.decode("latin-1"), ttl))

    def get(self, key: str) -> object:
        return self._out(self.funcs["get"](self.store, key))

    def delete(self, key: str) -> object:
        return self._out(self.funcs["delete"](self.store, key))


def transcript(guest: Guest) -> list[object]:
    out: list[object] = []
    for name, value in VALUES.items():
        for ttl in (None, 0, 3600):
            out += [(name, ttl), guest.set("v", value, ttl), guest.get("v")]
    for key in KEYS:
        out += [key, guest.set(key, b"value of " + key.encode("utf-8", "replace"), None),
                guest.get(key), guest.delete(key), guest.get(key), guest.delete(key)]
    out += [guest.get("never"), guest.delete("never")]
    return out


@pytest.fixture(scope="module")
def stock_transcript() -> list[object]:
    return transcript(Guest(GuestSession(MemoryBackend(), "t"), style="public", wrapped=False))


@pytest.mark.slow
@pytest.mark.parametrize(("style", "wrapped"), CONFIGS[1:])
def test_every_operation_agrees_with_stock(stock_transcript: list[object], style: str,
                                           wrapped: bool) -> None:
    got = transcript(Guest(GuestSession(MemoryBackend(), "t"), style=style, wrapped=wrapped))
    assert len(got) == len(stock_transcript)
    for index, (a, b) in enumerate(zip(got, stock_transcript, strict=True)):
        assert a == b, f"step {index}: {style} wrapped={wrapped}: {a!r:.80} != {b!r:.80}"
    assert stock_transcript[1:3] == [None, b""]
    assert VALUES["1mib"] in stock_transcript
    assert stock_transcript.count("value-too-large") == 3
    assert stock_transcript.count("invalid-key") >= 6


@pytest.mark.parametrize(("style", "wrapped"), CONFIGS)
@pytest.mark.parametrize(("exc", "case"), [(BackendUnavailable("down"), "unavailable"),
                                           (KeyError("bug"), "internal")])
def test_backend_failures_map_to_the_same_error(style: str, wrapped: bool, exc: Exception,
                                                case: str) -> None:
    guest = Guest(GuestSession(FailingBackend(exc), "t"), style=style, wrapped=wrapped)
    assert [guest.set("k", b"v", None), guest.get("k"), guest.delete("k")] == [case] * 3
    assert guest.set("", b"v", None) == "invalid-key"


@pytest.mark.parametrize(("style", "wrapped"), CONFIGS)
def test_lowered_limits_apply_on_every_path(style: str, wrapped: bool) -> None:
    host = GuestSession(MemoryBackend(), "t", Limits(max_key_bytes=4, max_value_bytes=3))
    guest = Guest(host, style=style, wrapped=wrapped)
    assert [guest.set("abcd", b"123", 1), guest.get("abcd"), guest.set("abcde", b"1", None),
            guest.set("a", b"1234", None)] == [None, b"123", "invalid-key", "value-too-large"]


class RaisingHost(GuestSession):
    def get(self, key: str) -> bytes:  # type: ignore[override]
        raise ValueError("host bug")


@pytest.mark.parametrize(("style", "wrapped"), CONFIGS)
def test_a_raising_host_traps_and_reraises_like_stock(style: str, wrapped: bool) -> None:
    guest = Guest(RaisingHost(MemoryBackend(), "t"), style=style, wrapped=wrapped)
    with pytest.raises(ValueError, match="host bug"):
        guest.get("k")


def test_wrapping_needs_no_internals_and_a_wrapped_component_is_not_wrapped_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter is plain WebAssembly: it nests the guest whatever the registration style.
    A component that already imports the private interface (a wrapper included) is refused."""
    monkeypatch.setenv("WASMCACHE_FAST_PATH", "0")
    wrapped = prepare_component(MIRROR)
    assert wrapped != MIRROR and is_wrapped(wrapped)
    with pytest.raises(PrivateImport, match="wasmcache:fastpath/payload@0.1.0"):
        prepare_component(wrapped)


def test_the_floor_adapter_answers_in_wasm_without_reaching_the_host() -> None:
    """The bench's floor guest: same lifts, but no call reaches the backend; get returns the
    last value set (so a guest that checks what it reads back still runs)."""
    backend = MemoryBackend()
    guest = Guest(GuestSession(backend, "t"), style="capi", wrapped=True,
                  wasm=wrap(MIRROR, floor_adapter_wat()))
    assert guest.get("k") == "not-found"
    assert guest.set("k", VALUES["1mib"], None) is None
    assert guest.set("k", VALUES["all-bytes"], None) is None
    assert guest.get("other key") == VALUES["all-bytes"]  # the last value set, whatever the key
    assert guest.delete("k") is None
    assert guest.get("k") == "not-found"
    assert backend.usage("t") == (0, 0)


def test_a_guest_without_the_cache_import_is_left_alone() -> None:
    plain = wasmtime.wat2wasm("(component)")
    assert prepare_component(plain) == plain


@pytest.mark.slow
@pytest.mark.parametrize("fast_env", ["1", "0"])
def test_example_guest_tour_through_the_cli(hello_guest: Path, run_cli, fast_env: str,
                                            tmp_path: Path) -> None:
    expected = (ROOT / "examples" / "hello_cache" / "expected_output.txt").read_text()
    env = {"WASMCACHE_FAST_PATH": fast_env,
           "WASMCACHE_COMPILE_CACHE": os.environ.get("WASMCACHE_COMPILE_CACHE", "on")}
    done = run_cli("run", "--backend", "memory://", str(hello_guest), env=env)
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == expected
