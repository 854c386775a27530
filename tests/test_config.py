"""wasmcache.toml: one test per validation message, profile selection, `config check/show`."""

from __future__ import annotations

from pathlib import Path

import pytest
from wasmcache.config import ConfigError, load_config
from wasmcache.policy import Access

GOOD = """
backend = "redis://:hunter2@127.0.0.1:6379/0"
namespace = "plain"
timeout = 30
max_memory = "256MiB"

[limits]
max_value_bytes = 65536

[guests.writer]
wasm = "*writer*.wasm"
namespace = "shop"
key_prefixes = ["cart:"]
max_keys = 100
max_bytes = 1_000_000

[guests.reader]
namespace = "shop"
access = "read-only"
max_key_bytes = 32
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wasmcache.toml"
    path.write_text(text)
    return path


def test_good_config_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.backend == "redis://:hunter2@127.0.0.1:6379/0"
    assert config.limits.max_value_bytes == 65536
    assert config.max_memory == 256 * 2**20
    writer, reader = config.guests["writer"], config.guests["reader"]
    assert writer.policy.key_prefixes == ("cart:",)
    assert writer.policy.max_keys == 100 and writer.timeout == 30
    assert reader.policy.access is Access.READ_ONLY
    assert reader.limits.max_key_bytes == 32 and reader.limits.max_value_bytes == 65536


def test_profile_selection_name_wins_over_path(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.select_profile(None, "build/my-writer-v2.wasm").name == "writer"
    assert config.select_profile("reader", "build/my-writer-v2.wasm").name == "reader"
    default = config.select_profile(None, "other.wasm")
    assert default.namespace == "plain" and default.policy.access is Access.READ_WRITE
    with pytest.raises(ConfigError, match="no guest profile 'nope'"):
        config.select_profile("nope", None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('bakend = "memory://"', "bakend: unknown key"),
        ("backend = 5", "backend: expected a URL string"),
        ('backend = "localhost:6379"', "backend: expected a URL like"),
        ('namespace = "has space"', "namespace: expected 1-64 of"),
        ("timeout = -1", "timeout: expected a positive number of seconds"),
        ('max_memory = "lots"', "max_memory: expected a size"),
        ("[limits]\nmax_key_bytes = 0", "limits.max_key_bytes: expected at least 1"),
        ('[limits]\nmax_value_bytes = "big"', "limits.max_value_bytes: expected a non-negative"),
        ("[limits]\nsize = 3", "limits.size: unknown key"),
        ('[guests.w]\naccess = "write"', "guests.w.access: expected \"read-write\""),
        ('[guests.w]\nnamespace = "a:b"', "guests.w.namespace: expected 1-64"),
        ("[guests.w]\nkey_prefixes = \"cart:\"", "guests.w.key_prefixes: expected an array"),
        ("[guests.w]\nkey_prefixes = [1]", "guests.w.key_prefixes: expected an array of non-empty"),
        ("[guests.w]\nmax_keys = true", "guests.w.max_keys: expected a non-negative integer"),
        ("[guests.w]\nmax_bytes = -5", "guests.w.max_bytes: expected a non-negative integer"),
        ("[guests.w]\nquota = 5", "guests.w.quota: unknown key"),
        ('guests = "x"', "guests: expected a table"),
        ('[guests."bad name"]', "guests.bad name: expected a profile name"),
        ("backend = ", "not valid TOML"),
    ],
)
def test_each_config_error_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_config_check_command(run_cli, tmp_path: Path) -> None:
    good = write(tmp_path, GOOD)
    ok = run_cli("config", "check", str(good))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == f"{good}: ok (2 guest profiles)\n"
    (tmp_path / "bad.toml").write_text('[guests.w]\naccess = "write"\n')
    bad = run_cli("config", "check", "bad.toml")
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        'wasmcache: error: bad.toml: guests.w.access: expected "read-write", "read-only" or '
        "\"none\", got 'write'"]
    (tmp_path / "scheme.toml").write_text('backend = "nosuch://x"\n')
    unknown = run_cli("config", "check", "scheme.toml")
    assert unknown.returncode == 2 and "unknown backend scheme 'nosuch'" in unknown.stderr


def test_bad_config_stops_run_before_the_guest(run_cli, tmp_path: Path, wat_guest) -> None:
    write(tmp_path, "timeout = 0")
    result = run_cli("run", "-b", "memory://", str(wat_guest("trap")))
    assert result.returncode == 2
    assert "wasmcache.toml: timeout: expected a positive number" in result.stderr


def test_config_show_merges_and_masks(run_cli, tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    shown = run_cli("config", "show", "--guest", "writer")
    assert shown.returncode == 0, shown.stderr
    assert 'backend = "redis://:***@127.0.0.1:6379/0"' in shown.stdout
    assert "hunter2" not in shown.stdout
    assert 'namespace = "shop"' in shown.stdout and "max_keys = 100" in shown.stdout
    assert "# guest profile: writer" in shown.stdout
    by_path = run_cli("config", "show", "x/the-writer.wasm")
    assert "# guest profile: writer" in by_path.stdout
    env = run_cli("config", "show", env={"WASMCACHE_BACKEND": "memory://env"})
    assert 'backend = "memory://env"' in env.stdout
    flag = run_cli("config", "show", "--backend", "memory://flag", "-n", "ns2", "--timeout", "5",
                   env={"WASMCACHE_BACKEND": "memory://env"})
    assert 'backend = "memory://flag"' in flag.stdout
    assert 'namespace = "ns2"' in flag.stdout and "timeout = 5.0" in flag.stdout
