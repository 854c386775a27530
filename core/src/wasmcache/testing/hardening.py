"""`BackendHardeningTests`: random, concurrent and crafted use of one backend URL.

Subclass it next to `BackendContractTests` (the same ``backend_url`` fixture serves both)::

    class TestMyBackend(BackendContractTests, BackendHardeningTests):
        @pytest.fixture
        def backend_url(self): ...

* a hypothesis state machine drives set / get / delete through `GuestSession` with keys and
  values at and around the limits and compares every answer with a plain dict;
* `concurrent_processes` OS processes (`wasmcache.testing.hammer`) hammer a small shared key
  set with self-checksummed values: no torn value, no call failing outside the contract, and
  each key ends holding what some writer wrote last;
* crafted namespace / key pairs and glob, LIKE and hash-tag patterns never reach other data.

The figures (steps, examples, operations) are printed (``pytest -s``) and collected for the
terminal summary of the ``wasmcache`` pytest plugin. Class attributes tune the cost per backend.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ..errors import CacheError
from ..limits import MAX_KEY_BYTES, MAX_VALUE_BYTES
from ..plugins import open_backend
from ..session import GuestSession
from .contract import TrackingBackend, unique_namespace
from .contract import tracked_backend as open_tracked
from .hammer import check_value

NOT_FOUND = CacheError.NOT_FOUND
MIB = MAX_VALUE_BYTES

#: Figures of this session, one line each, for the terminal summary (see `testing.plugin`).
FIGURES: list[str] = []


def report(line: str) -> None:
    """Print a figure (seen with ``-s``) and keep it for the end-of-session summary."""
    print(f"\nwasmcache hardening: {line}")
    FIGURES.append(line)


# --- keys and values at the limits --------------------------------------------------------
EMOJI = "\U0001F600"  # 4 bytes in UTF-8
BOUNDARY_KEYS = [
    "",  # invalid: empty
    "k" * MAX_KEY_BYTES,  # 250 bytes: fits
    "k" * (MAX_KEY_BYTES + 1),  # 251: invalid
    "k" * (MAX_KEY_BYTES - 2) + "é",  # 248 + 2 = 250 bytes in 249 characters: fits
    "k" * (MAX_KEY_BYTES - 1) + "é",  # 249 + 2 = 251 bytes: invalid
    "k" * (MAX_KEY_BYTES - 4) + EMOJI,  # 246 + 4 = 250: fits
    "k" * (MAX_KEY_BYTES - 3) + EMOJI,  # 247 + 4 = 251: the emoji crosses the limit
    EMOJI * 62 + "kk",  # 250 bytes in 64 characters: fits
    EMOJI * 63,  # 252 bytes in 63 characters: invalid
    "\ud800",  # a lone surrogate is not UTF-8: invalid
    "\0", "a\0b", "a\0", ":", "a:b", "::", "/", "a/b", "\\", ".", "-", " ", "\t\n",
    "*", "?", "[", "]", "[a]", "{", "}", "{a}", "}{", "a*", "%", "_", "a%", "'", '"',
]
KEY_ALPHABET = "ab:/\\*?[]{}%_\0 é" + EMOJI
keys = st.one_of(
    st.sampled_from(BOUNDARY_KEYS),
    st.text(alphabet=KEY_ALPHABET, min_size=0, max_size=6),
)
BIG = (bytes(range(251)) * (MIB // 251 + 1))[:MIB]  # exactly 1 MiB
BIG_OTHER = bytes(reversed(BIG))  # another 1 MiB, so a stale big value is caught
TOO_BIG = BIG + b"!"  # 1 MiB + 1: value-too-large
FIXED_VALUES = (b"\0", b"\xff" * 3, BIG, BIG_OTHER, TOO_BIG)


def _fixed_value(index: int) -> bytes:
    return FIXED_VALUES[index]


# drawn by index: hypothesis would otherwise hash and repr the 1 MiB values at every draw
values = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=64),
    st.integers(0, len(FIXED_VALUES) - 1).map(_fixed_value),
)
#: ttl None and long ones behave alike within a test; 0 is a delete; short ones are modelled
#: with a deadline (see `Model`).
LONG_TTLS = [None, None, 3600, 2**32 - 1]
SHORT_TTL = 1


def _valid(key: str) -> bytes | None:
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return raw if 1 <= len(raw) <= MAX_KEY_BYTES else None


@dataclass
class Entry:
    value: bytes
    #: monotonic time before which a short-ttl entry must still be there; None = no expiry
    sure_until: float | None = None
    #: monotonic time after which it must be gone
    gone_after: float | None = None


@dataclass
class Counts:
    examples: int = 0
    steps: int = 0
    expiry_waits: int = 0
    sleeps_left: int = 1


def make_machine(host_factory: Callable[[], GuestSession], counts: Counts,
                 ttl_grace: float) -> type[RuleBasedStateMachine]:
    """A state machine class bound to one backend; every instance gets a fresh namespace."""

    class CacheModel(RuleBasedStateMachine):
        """The backend (through GuestSession) against a dict of key bytes -> `Entry`."""

        def __init__(self) -> None:
            super().__init__()
            self.host = host_factory()
            self.model: dict[bytes, Entry] = {}
            counts.examples += 1

        def _step(self) -> None:
            counts.steps += 1

        @rule(key=keys, value=values, ttl=st.sampled_from(LONG_TTLS))
        def set(self, key: str, value: bytes, ttl: int | None) -> None:
            self._step()
            raw = _valid(key)
            result = self.host.set(key, value, ttl)
            if raw is None:
                assert result == CacheError.INVALID_KEY, (key, result)
            elif len(value) > MIB:
                assert result == CacheError.VALUE_TOO_LARGE, (key, result)
            else:
                assert result is None, (key, result)
                self.model[raw] = Entry(value)

        @rule(key=keys, value=values)
        def set_ttl_zero(self, key: str, value: bytes) -> None:
            self._step()
            raw = _valid(key)
            result = self.host.set(key, value, 0)
            if raw is None:
                assert result == CacheError.INVALID_KEY
            elif len(value) > MIB:
                assert result == CacheError.VALUE_TOO_LARGE
            else:
                assert result is None, result
                self.model.pop(raw, None)

        @rule(key=keys, value=st.binary(max_size=16))
        def set_short_ttl(self, key: str, value: bytes) -> None:
            self._step()
            raw = _valid(key)
            began = time.monotonic()
            result = self.host.set(key, value, SHORT_TTL)
            if raw is None:
                assert result == CacheError.INVALID_KEY
                return
            assert result is None, result
            self.model[raw] = Entry(value, sure_until=began + SHORT_TTL * 0.5,
                                    gone_after=time.monotonic() + SHORT_TTL + ttl_grace)

        @rule(key=keys)
        def get(self, key: str) -> None:
            self._step()
            raw = _valid(key)
            result = self.host.get(key)
            if raw is None:
                assert result == CacheError.INVALID_KEY, (key, result)
                return
            self._check(raw, result)

        @rule(key=keys)
        def delete(self, key: str) -> None:
            self._step()
            raw = _valid(key)
            result = self.host.delete(key)
            if raw is None:
                assert result == CacheError.INVALID_KEY
            else:
                assert result is None, result
                self.model.pop(raw, None)

        @rule()
        def wait_for_expiry(self) -> None:
            """Sleep past the short ttls, at most `Counts.sleeps_left` times per backend."""
            pending = [e.gone_after for e in self.model.values() if e.gone_after is not None]
            if not pending or counts.sleeps_left <= 0:
                return
            counts.sleeps_left -= 1
            counts.expiry_waits += 1
            time.sleep(max(0.0, max(pending) - time.monotonic()))
            self.check_everything()

        def _check(self, raw: bytes, result: bytes | CacheError) -> None:
            entry = self.model.get(raw)
            now = time.monotonic()
            if entry is None:
                assert result == NOT_FOUND, (raw[:40], _short(result))
            elif entry.gone_after is None or now < (entry.sure_until or 0):
                assert result == entry.value, (raw[:40], _short(result), len(entry.value))
            elif now > entry.gone_after:
                assert result == NOT_FOUND, (raw[:40], "outlived its ttl")
                del self.model[raw]
            else:  # in the ttl's window: either, and once gone it stays gone
                assert result in (entry.value, NOT_FOUND), (raw[:40], _short(result))
                if result == NOT_FOUND:
                    del self.model[raw]

        @invariant()
        def check_everything(self) -> None:
            """Every key the model knows reads back as the model says (cheap: a few keys)."""
            for raw in list(self.model):
                self._check(raw, self.host.get(raw.decode("utf-8")))

    return CacheModel


def _short(result: object) -> object:
    if isinstance(result, bytes) and len(result) > 40:
        return f"<{len(result)} bytes>"
    return result


# --- isolation ----------------------------------------------------------------------------
#: (namespace suffix, key) pairs; the test prefixes each namespace with a fresh base, so
#: ``base + suffix`` + ``key`` collide under naive concatenation with or without a separator.
COLLIDING_PAIRS = [
    ("a", ":b"), ("a", "b"), ("", "a:b"), ("", "ab"), ("a-", "b"), ("a", "-b"),
    ("a.", "b"), ("a", ".b"), ("a_", "b"), ("a", "_b"), ("", "a\0b"), ("a", "\0b"),
    ("a", "}:b"), ("a", "{a}:b"), ("", "{a}:b"), ("a", "/b"), ("", "a/b"), ("A", "b"),
]
#: keys that glob (Redis KEYS/SCAN), LIKE (SQL) or a hash tag would widen to other keys
PATTERN_KEYS = ["*", "?", "[", "[a]", "[!a]", "a*", "*b", "%", "_", "a%", "%b", "\\%", "\\*",
                "{*}", "{}", "{a}", "}", "a\\", ".*", "^a", "a$", "'%'", "' OR '1'='1"]


class BackendHardeningTests:
    """Model-based, concurrent and isolation tests. Provide a ``backend_url`` fixture."""

    #: hypothesis budget per backend: about 10-20 s on a local server
    model_examples: int = 30
    model_steps: int = 40
    #: concurrency: processes x operations each, over `concurrent_keys` keys
    concurrent_processes: int = 8
    concurrent_ops: int = 500
    concurrent_keys: int = 6
    #: seconds past a short ttl before the entry must be gone (slow clocks, sweeps)
    ttl_grace: float = 1.2
    #: None: every scheme but memory:// shares data between processes
    shared_between_processes: bool | None = None

    @pytest.fixture
    def backend_url(self) -> str:
        raise NotImplementedError("subclasses of BackendHardeningTests provide backend_url")

    @pytest.fixture
    def tracked_backend(self, backend_url: str) -> Iterator[TrackingBackend]:
        with open_tracked(backend_url) as backend:
            yield backend

    # --- model-based ----------------------------------------------------------------------
    def test_model_based_set_get_delete(self, tracked_backend: TrackingBackend,
                                        request: pytest.FixtureRequest) -> None:
        counts = Counts()
        machine = make_machine(lambda: GuestSession(tracked_backend, unique_namespace()), counts,
                               self.ttl_grace)
        began = time.monotonic()
        try:
            run_state_machine_as_test(machine, settings=settings(
                max_examples=self.model_examples, stateful_step_count=self.model_steps,
                deadline=None, derandomize=False, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
            ))
        finally:
            report(f"{type(self).__name__} model-based: {counts.examples} examples, "
                   f"{counts.steps} steps, {counts.expiry_waits} ttl waits "
                   f"in {time.monotonic() - began:.1f} s")

    # --- concurrency ----------------------------------------------------------------------
    def test_concurrent_processes_never_tear_values(self, backend_url: str,
                                                    tmp_path: Path) -> None:
        shared = self.shared_between_processes
        if shared is None:
            shared = not backend_url.startswith("memory:")
        if not shared:
            pytest.skip("memory:// is per process")
        namespace = unique_namespace()
        start_file = tmp_path / "start"
        seed = uuid.uuid4().int % 2**31
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        workers = [
            subprocess.Popen(
                [sys.executable, "-m", "wasmcache.testing.hammer", backend_url, namespace,
                 str(writer), str(self.concurrent_ops), str(self.concurrent_keys),
                 str(start_file), str(seed + writer)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            )
            for writer in range(self.concurrent_processes)
        ]
        began = time.monotonic()
        outputs = []
        try:
            time.sleep(0.5)  # let them import and connect; they spin on the start file
            start_file.touch()
            for worker in workers:
                out, err = worker.communicate(timeout=600)
                assert worker.returncode == 0, err[-2000:]
                outputs.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        took = time.monotonic() - began
        backend = open_backend(backend_url)
        host = GuestSession(backend, namespace)
        try:
            finals = {f"k{i}": host.get(f"k{i}") for i in range(self.concurrent_keys)}
            for key in finals:
                host.delete(key)
        finally:
            backend.close()

        totals = {name: sum(o["counts"][name] for o in outputs) for name in outputs[0]["counts"]}
        ops = totals["set"] + totals["get"] + totals["delete"]
        torn = [t for o in outputs for t in o["torn"]]
        failures = [f for o in outputs for f in o["failures"]]
        wrong_final = _wrong_finals(finals, outputs)
        report(f"{type(self).__name__} concurrency: {len(workers)} processes, {ops} operations "
               f"({totals['set']} set, {totals['get']} get ({totals['hits']} hits), "
               f"{totals['delete']} delete), {totals['unavailable']} unavailable, "
               f"{len(torn)} torn, {len(failures)} failed, {len(wrong_final)} wrong final "
               f"values in {took:.1f} s")
        assert not torn, torn[:5]
        assert not failures, failures[:5]
        assert not wrong_final, wrong_final

    # --- isolation ------------------------------------------------------------------------
    def test_colliding_namespace_key_pairs_stay_apart(self,
                                                      tracked_backend: TrackingBackend) -> None:
        base = unique_namespace()
        hosts = [(GuestSession(tracked_backend, base + suffix), key)
                 for suffix, key in COLLIDING_PAIRS]
        for index, (host, key) in enumerate(hosts):
            assert host.set(key, f"v{index}".encode(), None) is None, COLLIDING_PAIRS[index]
        for index, (host, key) in enumerate(hosts):
            assert host.get(key) == f"v{index}".encode(), COLLIDING_PAIRS[index]
        # deleting one pair's key leaves every other pair's value alone
        for index, (host, key) in enumerate(hosts):
            assert host.delete(key) is None
            for later, (other, other_key) in enumerate(hosts[index + 1:], start=index + 1):
                assert other.get(other_key) == f"v{later}".encode(), (
                    COLLIDING_PAIRS[index], COLLIDING_PAIRS[later])

    def test_pattern_keys_read_and_delete_only_themselves(
            self, tracked_backend: TrackingBackend) -> None:
        """In a namespace full of ordinary keys, and next to a namespace that is a glob match."""
        base = unique_namespace()
        mine = GuestSession(tracked_backend, base)
        # namespaces that `*`, `?`, `%` or `_` in a pattern built from `base` would also match
        neighbours = [GuestSession(tracked_backend, base + "x"), GuestSession(tracked_backend,
                                                                        base[:-1] + "_")]
        plain = ["a", "b", "ab", "a:b", "{a}", "x"]
        for host in [mine, *neighbours]:
            for key in plain:
                assert host.set(key, f"{host.namespace}/{key}".encode(), None) is None
        for pattern in PATTERN_KEYS:
            if pattern not in plain:
                assert mine.get(pattern) == NOT_FOUND, pattern
                assert mine.delete(pattern) is None
        for host in [mine, *neighbours]:
            for key in plain:
                assert host.get(key) == f"{host.namespace}/{key}".encode(), (host.namespace, key)
        # stored under pattern keys, they are ordinary keys too
        for index, pattern in enumerate(PATTERN_KEYS):
            assert mine.set(pattern, f"p{index}".encode(), None) is None
        for index, pattern in enumerate(PATTERN_KEYS):
            assert mine.get(pattern) == f"p{index}".encode(), pattern
        for host in neighbours:
            for pattern in PATTERN_KEYS:
                if pattern not in plain:
                    assert host.get(pattern) == NOT_FOUND, (host.namespace, pattern)


def _wrong_finals(finals: dict[str, bytes | CacheError],
                  outputs: list[dict[str, object]]) -> list[str]:
    """Each key must hold the outcome of some writer's last write to it.

    The globally last write to a key is one writer's last write. Writes whose outcome is unknown
    (`unavailable`) may or may not have happened, so a writer's candidates run back from its
    last write through unknown ones to the first that was answered ok.
    """
    wrong = []
    for key, final in finals.items():
        candidates: set[tuple[int, int, str]] = set()
        absent_possible = True
        touched = False
        for output in outputs:
            log = output["log"][key]  # type: ignore[index]
            if not log:
                continue
            touched = True
            for seq, op, outcome in reversed(log):
                candidates.add((output["writer"], seq, op))  # type: ignore[arg-type]
                if outcome == "ok":
                    break
        if touched:
            absent_possible = any(op == "delete" for _w, _s, op in candidates) or all(
                outcome != "ok" for o in outputs for _s, _op, outcome in o["log"][key])  # type: ignore[index]
        if isinstance(final, bytes):
            who = check_value(final)
            if who is None:
                wrong.append(f"{key}: final value is torn ({len(final)} bytes)")
            elif (who[0], who[1], "set") not in candidates:
                wrong.append(f"{key}: holds writer {who[0]}'s write #{who[1]}, not a last write")
        elif final == NOT_FOUND:
            if not absent_possible:
                wrong.append(f"{key}: missing, but every writer's last write was a set")
        else:
            wrong.append(f"{key}: final get answered {final}")
    return wrong
