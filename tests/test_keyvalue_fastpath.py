"""wasi:keyvalue answers byte for byte the same on every path a guest's call can take.

The keyvalue mirror guest (`keyvalue_mirror_guest_wat`) exports every wasi:keyvalue function
with u32 handles and Latin-1 string payloads, so these tests drive every function from Python
cheaply, 1 MiB values included. The same transcript of scenes runs on four hosts: registered
through raw C-API callbacks or wasmtime-py's public API, with the guest nested with the
keyvalue adapter (the private interface `wasmcache:fastpath/keyvalue@0.1.0`) or left unwrapped
(the resource-based linker). Each scene runs on a fresh instance; a trap ends its scene.

The one difference is wasmtime-py 50's lowering bug on the unwrapped public path: an error from
``bucket.get`` cannot be lowered there, so that scene ends with the one trap line saying so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import wasmtime
from build import build_guest
from wasmcache import GuestSession, Limits
from wasmcache.backend import Backend
from wasmcache.backends.memory import MemoryBackend
from wasmcache.errors import BackendUnavailable
from wasmcache.keyvalue.linker import LOWERING_BUG
from wasmcache.linker import add_to_linker
from wasmcache.policy import Access, Policy
from wasmcache.runner import _first_line
from wasmcache.testing.kvguest import CONFIGS, MirrorGuest, engine
from wasmtime.component import Linker

from conftest import FailingBackend

MIB = 1024 * 1024
VALUES = {"empty": "", "100": "".join(map(chr, range(100))),
          "all-bytes": "".join(map(chr, range(256))),
          "1mib": "".join(map(chr, range(256))) * 4096, "1mib+1": "\xff" * (MIB + 1)}
KEYS = ["k", "nul\x00key", "caf\u00e9/\U0001F600", "\u00e9" * 125, "x" * 250,
        "\U0001F600" * 62 + "ab"]
BAD_KEYS = ["", "x" * 251, "\U0001F600" * 63]


class SceneOver(Exception):
    """The guest trapped: the scene ends there."""


@dataclass
class Transcript:
    """Every call of a scene and what the guest got back."""

    guest: MirrorGuest
    lines: list[tuple[Any, ...]] = field(default_factory=list)

    def __call__(self, name: str, *args: Any) -> Any:
        try:
            result = self.guest.call(name, *args)
        except wasmtime.WasmtimeError as exc:
            self.lines.append((name, *args, "trap", _first_line(exc)))
            raise SceneOver from None
        self.lines.append((name, *args, result))
        return result


Kv = Transcript


def store(kv: Kv) -> None:
    bucket = kv("open", "default")
    kv("open", "nope")
    kv("open", "archive")
    kv("get", bucket, "v")
    kv("exists", bucket, "v")
    for value in VALUES.values():
        kv("set", bucket, "v", value)
        kv("get", bucket, "v")
        kv("exists", bucket, "v")
    for key in KEYS:
        kv("set", bucket, key, "value of " + key.encode().decode("latin-1"))
        kv("get", bucket, key)
        kv("delete", bucket, key)
        kv("get", bucket, key)
        kv("delete", bucket, key)
    for key in BAD_KEYS:
        kv("set", bucket, key, "x")
        kv("delete", bucket, key)
        kv("exists", bucket, key)
    kv("get", bucket, BAD_KEYS[0])  # the first error of bucket.get (see the module's doc)


def listing(kv: Kv) -> None:
    bucket = kv("open", "default")
    archive = kv("open", "archive")
    kv("list-keys", bucket, None)
    kv("set-many", bucket, [(f"item-{i}", str(i)) for i in range(8)]
       + [("caf\u00e9", "1"), ("\U0001F600", "2")])
    kv("set", archive, "elsewhere", "x")
    seen, cursor = [], None
    for _ in range(20):
        keys, cursor = kv("list-keys", bucket, cursor)
        seen += keys
        if cursor is None:
            break
    assert sorted(seen) == sorted([f"item-{i}" for i in range(8)] + ["caf\u00e9", "\U0001F600"])
    kv("list-keys", bucket, "not a cursor")
    kv("delete-many", bucket, seen)
    kv("list-keys", bucket, None)
    kv("list-keys", archive, None)


def atomics(kv: Kv) -> None:
    bucket = kv("open", "default")
    for delta in (5, -7, 0, 2**63 - 1, -(2**63)):
        kv("increment", bucket, "n", delta)
    kv("set", bucket, "big", str(2**63 - 1))
    kv("increment", bucket, "big", 1)
    kv("get", bucket, "big")
    kv("set", bucket, "word", "ten")
    kv("increment", bucket, "word", 1)
    kv("increment", bucket, "", 1)
    cas = kv("cas-new", bucket, "balance")
    kv("cas-current", cas)
    kv("cas-current", cas)
    kv("swap", cas, "100")
    stale = kv("cas-new", bucket, "balance")
    kv("cas-current", stale)
    kv("set", bucket, "balance", "150")
    fresh = kv("swap", stale, "90")  # cas-failed: a fresh handle holding what won
    kv("cas-current", fresh)
    kv("swap", fresh, "140")
    kv("get", bucket, "balance")
    absent = kv("cas-new", bucket, "late")
    kv("set", bucket, "late", "here")
    lost = kv("swap", absent, "mine")
    kv("cas-current", lost)
    kv("drop-cas", lost)
    big = kv("cas-new", bucket, "late")
    kv("swap", big, "\x00" * (MIB + 1))  # store-error(other: too large)
    kv("get", bucket, "late")
    one_mib = kv("cas-new", bucket, "late")
    kv("swap", one_mib, VALUES["1mib"])
    again = kv("cas-new", bucket, "late")
    kv("cas-current", again)
    kv("drop-cas", again)
    kv("cas-new", bucket, "")
    kv("cas-new", bucket, "x" * 251)


def batch(kv: Kv) -> None:
    bucket = kv("open", "default")
    kv("set-many", bucket, [])
    kv("get-many", bucket, [])
    kv("delete-many", bucket, [])
    items = [("a", "1"), ("b", ""), ("c\x00", VALUES["all-bytes"]), ("caf\u00e9", "\xe9"),
             ("big", VALUES["1mib"])]
    kv("set-many", bucket, items)
    kv("get-many", bucket, ["c\x00", "missing", "a", "b", "a", "caf\u00e9", "big"])
    kv("set-many", bucket, [("a", "one"), ("", "x")])  # one bad key: nothing written
    kv("set-many", bucket, [("a", "one"), ("huge", VALUES["1mib+1"])])
    kv("get-many", bucket, ["a", "huge"])
    kv("get-many", bucket, ["a", "x" * 251])
    kv("delete-many", bucket, ["a", ""])
    kv("delete-many", bucket, ["a", "missing", "c\x00"])
    kv("get-many", bucket, ["a", "b", "c\x00"])
    kv("set-many", bucket, [(f"k{i}", "v" * 1024) for i in range(2000)])
    kv("get-many", bucket, [f"k{i}" for i in range(0, 2000, 97)])


def dropped_bucket(kv: Kv) -> None:
    first = kv("open", "default")
    second = kv("open", "default")
    kv("set", second, "k", "v")
    kv("drop-bucket", first)
    kv("get", second, "k")
    kv("drop-bucket", second)
    kv("get", second, "k")  # a dropped handle: the guest traps


def consumed_cas(kv: Kv) -> None:
    bucket = kv("open", "default")
    cas = kv("cas-new", bucket, "k")
    kv("swap", cas, "v")
    kv("cas-current", cas)  # swap consumed it: the guest traps


def dropped_cas(kv: Kv) -> None:
    bucket = kv("open", "default")
    cas = kv("cas-new", bucket, "k")
    kv("drop-cas", cas)
    kv("swap", cas, "v")


def read_only(kv: Kv) -> None:
    bucket = kv("open", "default")
    kv("get", bucket, "pub:k")
    kv("exists", bucket, "secret")
    kv("set", bucket, "pub:k", "x")
    kv("delete", bucket, "pub:k")
    kv("increment", bucket, "pub:n", 1)
    kv("set-many", bucket, [("pub:a", "1")])
    kv("delete-many", bucket, ["pub:a"])
    kv("get-many", bucket, ["pub:k", "secret"])
    cas = kv("cas-new", bucket, "pub:k")
    kv("swap", cas, "x")
    kv("list-keys", bucket, None)
    kv("open", "archive")
    kv("get", bucket, "secret")


def no_access(kv: Kv) -> None:
    bucket = kv("open", "default")
    kv("list-keys", bucket, None)
    kv("exists", bucket, "k")
    kv("get-many", bucket, ["k"])
    kv("get", bucket, "k")


def failing(kv: Kv) -> None:
    bucket = kv("open", "default")
    kv("set", bucket, "k", "v")
    kv("delete", bucket, "k")
    kv("exists", bucket, "k")
    kv("list-keys", bucket, None)
    kv("increment", bucket, "n", 1)
    kv("cas-new", bucket, "k")
    kv("set-many", bucket, [("k", "v")])
    kv("get-many", bucket, ["k"])
    kv("delete-many", bucket, ["k"])
    kv("set", bucket, "", "v")
    kv("get", bucket, "k")


def limits_and_quota(kv: Kv) -> None:
    bucket = kv("open", "default")
    archive = kv("open", "archive")
    kv("set", bucket, "abcd", "123")
    kv("set", bucket, "abcde", "1")
    kv("set", bucket, "a", "1234")
    kv("set", archive, "b", "1")
    kv("set", bucket, "c", "1")  # the third key: over max_keys
    kv("set-many", archive, [("b", "2"), ("d", "3")])
    kv("increment", bucket, "n", 1)
    cas = kv("cas-new", bucket, "e")
    kv("swap", cas, "1")
    kv("get-many", bucket, ["abcd", "a"])


def memory() -> Backend:
    return MemoryBackend()


SCENES: dict[str, tuple[Callable[[Kv], None], Callable[[], Backend], dict[str, Any]]] = {
    "store": (store, memory, {}),
    "listing": (listing, memory, {"keys_per_page": 3}),
    "atomics": (atomics, memory, {}),
    "batch": (batch, memory, {}),
    "dropped-bucket": (dropped_bucket, memory, {}),
    "consumed-cas": (consumed_cas, memory, {}),
    "dropped-cas": (dropped_cas, memory, {}),
    "read-only": (read_only, memory, {"policy": Policy(access=Access.READ_ONLY,
                                                        key_prefixes=("pub:",))}),
    "no-access": (no_access, memory, {"policy": Policy(access=Access.NONE)}),
    "unavailable": (failing, lambda: FailingBackend(BackendUnavailable("down")), {}),
    "internal": (failing, lambda: FailingBackend(KeyError("bug")), {}),
    "limits-and-quota": (limits_and_quota, memory, {
        "limits": Limits(max_key_bytes=4, max_value_bytes=3),
        "policy": Policy(max_keys=2)}),
}


def run_scene(name: str, style: str, wrapped: bool) -> list[tuple[Any, ...]]:
    scene, backend, options = SCENES[name]
    buckets = () if "policy" in options and name != "limits-and-quota" else ("archive",)
    session = GuestSession(backend(), "t", options.get("limits"),
                           options.get("policy", Policy()), buckets=buckets,
                           keys_per_page=options.get("keys_per_page", 100))
    kv = Transcript(MirrorGuest(session, style, wrapped))
    try:
        scene(kv)
    except SceneOver:
        pass
    return kv.lines


@pytest.fixture(scope="module")
def reference() -> dict[str, list[tuple[Any, ...]]]:
    """Every scene on the C-API style, unwrapped: the resource-based linker of before."""
    return {name: run_scene(name, "capi", False) for name in SCENES}


def _short(line: tuple[Any, ...]) -> str:
    return repr(line)[:160]


@pytest.mark.parametrize(("style", "wrapped"), [c for c in CONFIGS if c != ("capi", False)])
@pytest.mark.parametrize("scene", list(SCENES))
def test_every_path_answers_the_same(reference: dict[str, list[tuple[Any, ...]]], scene: str,
                                     style: str, wrapped: bool) -> None:
    expected = reference[scene]
    if (style, wrapped) == ("public", False):
        expected = _with_lowering_bug(expected)
    got = run_scene(scene, style, wrapped)
    for index, (a, b) in enumerate(zip(got, expected, strict=False)):
        assert a == b, f"{scene} step {index}: {_short(a)} != {_short(b)}"
    assert len(got) == len(expected), f"{scene}: {len(got)} steps, expected {len(expected)}"


def _with_lowering_bug(lines: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """`lines` as wasmtime-py 50's public API serves them without the adapter: the first
    bucket.get that answers an error traps instead, and ends the scene."""
    for index, line in enumerate(lines):
        if line[0] == "get" and isinstance(line[-1], wasmtime.component.Variant):
            error = line[-1]
            return [*lines[:index], (*line[:-1], "trap",
                                     f"wasi:keyvalue bucket.get answered {error.tag}: "
                                     f"{LOWERING_BUG}")]
    return lines


def test_the_reference_transcript_covers_the_edge_cases(
        reference: dict[str, list[tuple[Any, ...]]]) -> None:
    """The transcript the four paths must agree on says what the contract says."""
    def results(scene: str, name: str) -> list[Any]:
        return [line[-1] for line in reference[scene] if line[0] == name]

    store_gets = results("store", "get")
    assert store_gets[0] is None and "" in store_gets and VALUES["1mib"] in store_gets
    assert store_gets.count(VALUES["1mib"]) == 2  # 1 MiB + 1 is refused, the old value stays
    too_large = "value too large: values are at most 1048576 bytes"
    assert results("store", "set").count(wasmtime.component.Variant("other", too_large)) == 1
    assert reference["store"][-1][-1] == wasmtime.component.Variant(
        "other", "invalid key: keys are 1 to 250 bytes of UTF-8")
    assert results("store", "open")[1:] == [wasmtime.component.Variant("no-such-store"), 2]
    swaps = results("atomics", "swap")
    assert swaps[0] is None and isinstance(swaps[1], int) and swaps[2] is None
    assert wasmtime.component.Variant("other", too_large) in swaps
    assert results("atomics", "cas-current")[:4] == [None, None, "100", "150"]
    assert results("batch", "get-many")[1] == [
        ("c\x00", VALUES["all-bytes"]), None, ("a", "1"), ("b", ""), ("a", "1"),
        ("caf\u00e9", "\xe9"), ("big", VALUES["1mib"])]
    assert results("batch", "get-many")[2] == [("a", "1"), None]  # refused batches wrote nothing
    for scene in ("dropped-bucket", "consumed-cas", "dropped-cas"):
        assert reference[scene][-1][-2] == "trap", reference[scene][-1]
    assert "unknown handle index" in reference["consumed-cas"][-1][-1]
    assert results("read-only", "set") == [wasmtime.component.Variant("access-denied")]
    unavailable = wasmtime.component.Variant(
        "other", "backend unavailable: the store cannot be reached now; retry later")
    assert results("unavailable", "set") == [unavailable, wasmtime.component.Variant(
        "other", "invalid key: keys are 1 to 250 bytes of UTF-8")]  # the key is checked first
    assert results("limits-and-quota", "set")[-1] == wasmtime.component.Variant("access-denied")


@pytest.mark.parametrize(("style", "wrapped"), CONFIGS)
def test_handles_the_guest_drops_are_freed_on_the_host(style: str, wrapped: bool) -> None:
    """A cas the guest drops, or that swap consumes, leaves the host's table: the private
    interface's ids (wrapped) or the resource table (unwrapped)."""
    from wasmcache.keyvalue import KeyValueHost, add_keyvalue_to_linker
    from wasmcache.keyvalue.plain import PlainKeyValue
    from wasmcache.wire.keyvalue import KEYVALUE
    from wasmcache.wire.public import register

    session = GuestSession(MemoryBackend(), "t")
    linker = Linker(engine())
    add_to_linker(linker, session, keyvalue=False)
    host = KeyValueHost(session)
    plain = PlainKeyValue(host)
    with linker.root() as root:
        with root.add_instance(KEYVALUE.interface) as instance:
            register(instance, KEYVALUE, plain)
    _, resources = add_keyvalue_to_linker(linker, host, style=style)
    cases = plain.cases if wrapped else resources
    guest = MirrorGuest(session, style, wrapped, linker)
    bucket = guest.call("open", "default")
    handles = [guest.call("cas-new", bucket, f"k{i}") for i in range(5)]
    assert len(cases) == 5
    guest.call("drop-cas", handles[0])
    assert guest.call("swap", handles[1], "v") is None
    guest.call("set", bucket, "k2", "changed")
    fresh = guest.call("swap", handles[2], "v")
    assert isinstance(fresh, int) and len(cases) == 3  # 3, 4 and the fresh one
    for handle in (handles[3], handles[4], fresh):
        guest.call("drop-cas", handle)
    assert len(cases) == 0
    guest.call("drop-bucket", bucket)


def _private_imports(wasm: bytes) -> list[str]:
    """The private interfaces a wrapper imports (read from its top-level import sections)."""
    from wasmcache.compose import nest

    names = []
    for section_id, start, _end in nest._sections(wasm):
        if section_id == nest.IMPORT:
            count, pos = nest._leb(wasm, start)
            for _ in range(count):
                name, _sort, pos = nest._read_import(wasm, pos)
                names.append(name)
    return [name for name in names if name.startswith("wasmcache:fastpath/")]


def test_each_adapter_is_nested_only_for_the_interfaces_a_guest_imports() -> None:
    """A guest importing both interfaces gets both adapters; one importing only one gets that
    one; one importing neither is left as it is."""
    from wasmcache.compose import prepare_component
    from wasmcache.compose.adapter import mirror_guest_wat
    from wasmcache.compose.keyvalue import keyvalue_mirror_guest_wat

    payload, keyvalue = "wasmcache:fastpath/payload@0.1.0", "wasmcache:fastpath/keyvalue@0.1.0"
    both = build_guest("ops_guest", world="cache-keyvalue-command").read_bytes()
    cases = [(wasmtime.wat2wasm(mirror_guest_wat()), [payload]),
             (wasmtime.wat2wasm(keyvalue_mirror_guest_wat()), [keyvalue]),
             (both, [payload, keyvalue])]
    for wasm, expected in cases:
        assert _private_imports(prepare_component(wasm)) == expected
    plain = wasmtime.wat2wasm("(component)")
    assert prepare_component(plain) == plain
