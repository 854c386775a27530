"""Every bad URL, flag or config value gets its one line: ``wasmcache: error: ...``, exit 2.

First the cases found by hand (issue 18), through the real command. Then a property (hypothesis)
over backend URLs of every installed scheme, the run flags and wasmcache.toml values: each input
either runs the guest (exit 0 or 1; 3 with one line when it was stopped) or is refused with
exactly one ``wasmcache: error:`` line and exit 2, never a traceback. The property runs the
command in-process (`wasmcache.testing.cli.invoke`) with a tiny WAT guest, so an example costs
milliseconds; every server URL points at a port where nothing listens (a store that answered
would get tables and keys from random names).
"""

from __future__ import annotations

import json
import logging
import math
import string
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import plugin_helpers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wasmcache.plugins import get_registry
from wasmcache.testing.cli import CliResult, invoke
from wasmcache.testing.hardening import report

from .cases import one_error_line

#: (arguments before the guest, the line must contain); the guest is tests/guests/visits.wat,
#: which imports the cache, so its backend is opened (a guest that imports none never opens it).
BY_HAND = [
    (["--backend", "redis://[::1"], "bad Redis URL: Invalid IPv6 URL"),
    (["--backend", "memory://", "--timeout", "nan"], "positive number of seconds, got nan"),
    (["--backend", "memory://", "--timeout", "-1"], "positive number of seconds, got -1.0"),
    (["--backend", "memory://", "--timeout", "inf"], "positive number of seconds, got inf"),
    (["--backend", "memory://", "--timeout", "1e12"], "at most 1e+09 seconds"),
    (["--backend", ""], "--backend is empty"),
    (["--backend", "memory://?x=1"], "memory:// takes no options"),
    (["--backend", "redis://127.0.0.1:6379/abc"], "'/abc' is not a database number"),
    (["--backend", "redis+cluster://127.0.0.1:6379"], "not in cluster mode"),
    (["--backend", "redis://:pa/ss@127.0.0.1:6379/0"], "percent-encode it"),
    (["--backend", "sqlite:///x.db?passwd=x"], "not accepted by the pysqlite driver"),
    (["--backend", "mysql+pymysql://u@127.0.0.1:99999999/x"], "port 99999999 is not 1-65535"),
    (["--backend", "memory://", "--max-memory", "0"], "invalid size '0'"),
    (["--backend", "memory://", "--max-memory", "99999999999GiB"], "invalid size"),
]
CONFIG_BY_HAND = [
    ("timeout = nan\n", "timeout: expected a positive number of seconds, got nan"),
    ("max_memory = \"0MiB\"\n", "max_memory: expected a size from 1 byte"),
    ('backend_password_file = "s"\nbackend_password_env = "S"\n', "not both"),
]


@pytest.mark.parametrize(("flags", "words"), BY_HAND, ids=[" ".join(f) for f, _ in BY_HAND])
def test_found_by_hand(flags: list[str], words: str, wat_guest, run_cli) -> None:  # type: ignore[no-untyped-def]
    done = run_cli("run", *flags, str(wat_guest("visits")))
    line = one_error_line(done.stderr)
    report(f"run {' '.join(repr(f) if not f or ' ' in f else f for f in flags)}: "
           f"exit {done.returncode}: {line}")
    assert done.returncode == 2 and words in line, line


@pytest.mark.parametrize(("toml", "words"), CONFIG_BY_HAND, ids=[t for t, _ in CONFIG_BY_HAND])
def test_config_values_found_by_hand(toml: str, words: str, wat_guest, run_cli,  # type: ignore[no-untyped-def]
                                     tmp_path: Path) -> None:
    (tmp_path / "wasmcache.toml").write_text(toml)
    done = run_cli("run", "-b", "memory://", str(wat_guest("visits")))
    line = one_error_line(done.stderr)
    report(f"wasmcache.toml {toml.strip()!r}: exit {done.returncode}: {line}")
    assert done.returncode == 2 and words in line, line


@pytest.mark.parametrize("args", [[], ["run"], ["nosuchcommand"], ["run", "--backend"]],
                         ids=["no-command", "run-without-guest", "unknown-command",
                              "flag-without-value"])
def test_usage_errors_are_one_line_too(args: list[str], run_cli) -> None:  # type: ignore[no-untyped-def]
    done = run_cli(*args)
    assert done.returncode == 2
    if not args:  # `wasmcache` alone prints its help, as before
        assert "usage: wasmcache" in done.stdout + done.stderr
        return
    line = one_error_line(done.stderr)
    report(f"{' '.join(args)}: exit 2: {line}")
    assert "--help" in line


# --- the property ---------------------------------------------------------------------------
CLOSED_PORT = plugin_helpers.REDIS.free_port()  # nothing listens here during the session (a guess,
# re-checked by every example that reaches it: a listener there would only make it succeed)
TEXT = st.text(max_size=16)
SAFE = st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=10)
NUMBERISH = st.one_of(st.integers(-10, 10**12).map(str),
                      st.floats(allow_nan=True, allow_infinity=True).map(repr), TEXT)
OPTION_NAMES = {
    "redis": ["prefix", "hash_tag", "retries", "node", "db", "socket_timeout",
              "socket_connect_timeout", "max_connections", "health_check_interval", "protocol",
              "ssl_cert_reqs", "ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "client_name",
              "decode_responses", "password", "username"],
    "sql": ["table", "connect_timeout", "io_timeout", "pool_size", "busy_timeout",
            "purge_interval", "purge_batch", "sslmode", "sslrootcert", "ssl_ca", "charset"],
    "disk": ["size_limit", "eviction_policy", "cull_limit", "shards", "timeout", "journal_mode"],
    "memory": ["x"],
}


def _family(scheme: str) -> str:
    if scheme in ("memory", "disk"):
        return scheme
    return "redis" if scheme.startswith(("redis", "unix")) else "sql"


def _query(family: str) -> st.SearchStrategy[str]:
    name = st.one_of(st.sampled_from(OPTION_NAMES[family]), TEXT)
    pair = st.builds(lambda n, v: f"{n}={v}", name, NUMBERISH)
    return st.one_of(st.just(""), st.lists(pair, max_size=3).map(lambda p: "?" + "&".join(p)))


def urls(scheme: str) -> st.SearchStrategy[str]:
    """URLs of `scheme` that never reach a real store: server URLs name `CLOSED_PORT` (or a
    port that is not one), disk and sqlite paths stay inside the working directory."""
    family = _family(scheme)
    if family == "memory":
        return st.builds(lambda n, q: f"memory://{n}{q}", TEXT, _query(family))
    if family == "disk":
        return st.builds(lambda p, q: f"disk://{p}{q}", SAFE, _query(family))
    if scheme.startswith("sqlite"):
        return st.builds(lambda p, q: f"{scheme}:///{p}.db{q}", SAFE, _query(family))
    login = st.one_of(st.just(""), st.builds(lambda u, p: f"{u}:{p}@", SAFE, TEXT),
                      st.builds(lambda u: f"{u}@", TEXT))
    if scheme == "unix":
        return st.builds(lambda li, p, q: f"unix://{li}/nonexistent/{p}.sock{q}", login, SAFE,
                         _query(family))
    host = st.sampled_from(["127.0.0.1", "localhost", "[::1]", "[::1", "127.0.0.1:x"])
    port = st.one_of(st.just(f":{CLOSED_PORT}"), st.sampled_from([":0", ":99999", ":-1"]),
                     TEXT.filter(lambda t: not t.isdigit()).map(lambda t: ":" + t))
    path = st.one_of(st.just(""), st.just("/0"), TEXT.map(lambda t: "/" + t))
    return st.builds(lambda li, h, po, pa, q: f"{scheme}://{li}{h}{po}{pa}{q}",
                     login, host, port, path, _query(family))


def _toml(value: object) -> str:
    """A TOML literal for the values the strategies make (json's escapes are TOML's too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


TOML_VALUES = st.one_of(st.booleans(), st.integers(-2**63, 2**63 - 1),
                        st.floats(allow_nan=True, allow_infinity=True), TEXT,
                        st.lists(st.one_of(TEXT, st.integers(-5, 5)), max_size=3))
TOP_KEYS = ["backend", "backend_password_file", "backend_password_env", "namespace", "timeout",
            "max_memory"]
PROFILE_KEYS = ["wasm", "namespace", "access", "key_prefixes", "max_keys", "max_bytes",
                "timeout", "max_memory", "buckets", "keys_per_page", "max_key_bytes",
                "max_value_bytes"]


def config_files() -> st.SearchStrategy[str]:
    top = st.dictionaries(st.one_of(st.sampled_from(TOP_KEYS), SAFE), TOML_VALUES, max_size=3)
    profile = st.dictionaries(st.one_of(st.sampled_from(PROFILE_KEYS), SAFE), TOML_VALUES,
                              max_size=3)
    guests = st.dictionaries(SAFE, profile, max_size=2)

    def render(top: dict[str, object], guests: dict[str, dict[str, object]]) -> str:
        lines = [f"{json.dumps(key)} = {_toml(value)}" for key, value in top.items()]
        for name, table in guests.items():
            lines.append(f"[guests.{json.dumps(name)}]")
            lines += [f"{json.dumps(key)} = {_toml(value)}" for key, value in table.items()]
        return "\n".join(lines) + "\n"

    return st.builds(render, top, guests)


def _ran_or_one_line(result: CliResult, what: str) -> int:
    """The property: ran (0/1, or 3 with one error line), or exactly one line and exit 2."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{what}: {result.exception!r}") from result.exception
    assert "Traceback" not in result.output, (what, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("wasmcache: error: ")]
    if result.exit_code in (0, 1):
        assert not errors, (what, lines)
    elif result.exit_code == 3:  # stopped or trapped: its line (and --stats' table, if asked)
        assert len(errors) == 1, (what, lines)
    else:
        assert result.exit_code == 2, (what, result.exit_code, lines)
        assert lines == errors and len(errors) == 1, (what, lines)
    return result.exit_code


def _invoke(args: list[str], env: dict[str, str] | None = None) -> CliResult:
    return invoke(args, env={"WASMCACHE_BACKEND": None, **(env or {})})


def _no_logged_traceback(caplog: pytest.LogCaptureFixture, what: str) -> None:
    logged = [record for record in caplog.records if record.exc_info]
    assert not logged, (what, [record.getMessage() for record in logged])
    caplog.clear()


EXAMPLES = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
SCHEMES = sorted(get_registry().backends)


@pytest.fixture
def in_scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
               caplog: pytest.LogCaptureFixture) -> Path:
    """A working directory for disk:// and sqlite:// paths; log records kept for the check."""
    monkeypatch.chdir(tmp_path)
    caplog.set_level(logging.WARNING)
    return tmp_path


@pytest.mark.parametrize("scheme", SCHEMES)
def test_backend_urls_of_every_scheme(scheme: str, wat_guest: Callable[[str], Path],
                                      in_scratch: Path, caplog: pytest.LogCaptureFixture) -> None:
    guest = str(wat_guest("visits"))
    exits: Counter[int] = Counter()

    @EXAMPLES
    @given(url=urls(scheme))
    def check(url: str) -> None:
        exits[_ran_or_one_line(_invoke(["run", "--backend", url, guest]), url)] += 1
        _no_logged_traceback(caplog, url)

    check()
    report(f"property, {scheme}:// URLs: {sum(exits.values())} runs, exit statuses "
           f"{dict(sorted(exits.items()))}, no traceback")


def test_run_flags(wat_guest: Callable[[str], Path], in_scratch: Path,
                   caplog: pytest.LogCaptureFixture) -> None:
    guest = str(wat_guest("visits"))
    exits: Counter[int] = Counter()

    @settings(EXAMPLES, max_examples=150)  # cheap: most are refused by the parser itself
    @given(timeout=st.one_of(st.floats(0.5, 60).map(repr), NUMBERISH),
           memory=st.one_of(st.integers(1, 2**40).map(str),
                            st.sampled_from(["64MiB", "1 GiB", "300kb"]), NUMBERISH),
           namespace=st.one_of(SAFE, TEXT),
           extra=st.lists(st.sampled_from(["--guest", "--config", "--stats", "-n", "--timeout"]),
                          max_size=2))
    def check(timeout: str, memory: str, namespace: str, extra: list[str]) -> None:
        args = ["run", "--backend", "memory://", "--timeout", timeout, "--max-memory", memory,
                "--namespace", namespace, *extra, guest]
        exits[_ran_or_one_line(_invoke(args), repr(args))] += 1
        _no_logged_traceback(caplog, repr(args))

    check()
    report(f"property, run flags: {sum(exits.values())} runs, exit statuses "
           f"{dict(sorted(exits.items()))}, no traceback")


def test_config_values(wat_guest: Callable[[str], Path], in_scratch: Path,
                       caplog: pytest.LogCaptureFixture) -> None:
    guest, config = str(wat_guest("visits")), in_scratch / "fuzzed.toml"
    exits: Counter[int] = Counter()

    @EXAMPLES
    @given(toml=config_files())
    def check(toml: str) -> None:
        config.write_text(toml, encoding="utf-8")
        for args in (["run", "--config", str(config), "--backend", "memory://", guest],
                     ["config", "check", str(config)],
                     ["config", "show", "--config", str(config)]):
            exits[_ran_or_one_line(_invoke(args), f"{args[:2]} with {toml!r}")] += 1
        _no_logged_traceback(caplog, toml)

    check()
    report(f"property, wasmcache.toml values: {sum(exits.values())} commands, exit statuses "
           f"{dict(sorted(exits.items()))}, no traceback")
