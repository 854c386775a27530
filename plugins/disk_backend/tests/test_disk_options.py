"""``disk://`` URL parsing: directories, options, and one clear error per bad option."""

from __future__ import annotations

from pathlib import Path

import pytest
from wasmcache import WasmcacheError
from wasmcache_disk.options import (
    DEFAULT_TIMEOUT,
    INLINE_VALUES_BELOW,
    SQLITE_SETTINGS,
    parse_size,
    parse_url,
)


def test_relative_path_is_relative_to_the_working_directory(tmp_path: Path) -> None:
    assert parse_url("disk://.wasmcache", cwd=tmp_path).directory == tmp_path / ".wasmcache"
    assert parse_url("disk://a/b/../c", cwd=tmp_path).directory == tmp_path / "a" / "c"
    assert parse_url("disk://~/x", cwd=tmp_path).directory == tmp_path / "~" / "x"


def test_relative_path_uses_the_current_directory(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_url("disk://.wasmcache").directory == tmp_path / ".wasmcache"


def test_absolute_path_and_percent_decoding() -> None:
    assert parse_url("disk:///var/lib/wasmcache").directory == Path("/var/lib/wasmcache")
    assert parse_url("disk:///tmp/a%20b%3Fc%23d").directory == Path("/tmp/a b?c#d")


def test_defaults_pass_only_the_journal_and_sqlite_settings_and_inline_values() -> None:
    options = parse_url("disk:///tmp/x")
    # never diskcache's WAL unless asked for; never its unsynced value files; NORMAL sync and
    # no memory-mapped database whatever the directory has stored
    safe = {"sqlite_journal_mode": "truncate", "sqlite_synchronous": 1, "sqlite_mmap_size": 0,
            "disk_min_file_size": INLINE_VALUES_BELOW}
    assert (options.shards, options.timeout, options.settings) == (1, DEFAULT_TIMEOUT, safe)
    assert parse_url("disk:///tmp/x?").settings == safe


def test_every_option() -> None:
    options = parse_url("disk:///tmp/x?size_limit=1GiB&eviction_policy=least-recently-used"
                        "&cull_limit=0&shards=4&timeout=0.5&journal_mode=wal")
    assert options.shards == 4
    assert options.timeout == 0.5
    assert options.settings == {"size_limit": 2**30, "eviction_policy": "least-recently-used",
                                "cull_limit": 0, "sqlite_journal_mode": "wal",
                                **SQLITE_SETTINGS, "disk_min_file_size": INLINE_VALUES_BELOW}
    assert parse_url("disk:///tmp/x?journal_mode=persist").journal_mode == "persist"


@pytest.mark.parametrize(("text", "size"), [
    ("1", 1), ("1048576", 2**20), ("500MB", 500 * 10**6), ("1GiB", 2**30), ("1gib", 2**30),
    ("1.5GiB", 3 * 2**29), ("2 KiB", 2048), ("10kb", 10_000), ("7B", 7), ("1TiB", 2**40),
])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "0", "-1", "1.5", "GiB", "1XB", "1 G iB", "0.1B", "nan"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize(("query", "names"), [
    ("size_limit=lots", ["size_limit", "lots", "1GiB"]),
    ("size_limit=0", ["size_limit", "positive"]),
    ("eviction_policy=lru", ["eviction_policy", "'lru'", "least-recently-used"]),
    ("cull_limit=-1", ["cull_limit", "integer"]),
    ("shards=0", ["shards", "integer from 1 to 256"]),
    ("shards=1000", ["shards", "from 1 to 256"]),
    ("shards=two", ["shards", "'two'"]),
    ("timeout=0", ["timeout", "seconds"]),
    ("timeout=nan", ["timeout", "seconds"]),
    ("timeout=soon", ["timeout", "'soon'"]),
    ("journal_mode=delete", ["journal_mode", "truncate, persist or wal", "'delete'"]),
    ("journal_mode=WAL", ["journal_mode", "'WAL'"]),
    ("sizelimit=1", ["unknown option 'sizelimit'", "size_limit"]),
    ("shards=2&shards=2", ["shards", "more than once"]),
    ("shards", ["name=value", "'shards'"]),
    ("shards=2&", ["name=value"]),
])
def test_bad_option_is_one_line_naming_it(query: str, names: list[str]) -> None:
    with pytest.raises(WasmcacheError) as info:
        parse_url(f"disk:///tmp/x?{query}")
    message = str(info.value)
    assert "\n" not in message
    for name in names:
        assert name in message


@pytest.mark.parametrize(("url", "expected"), [
    ("disk://", "no directory"),
    ("disk://?shards=2", "no directory"),
    ("disk:///tmp/x#frag", "%23"),
    ("disk:///tmp/%ff", "UTF-8"),
    ("disk:///tmp/a%00b", "NUL"),
])
def test_bad_urls(url: str, expected: str) -> None:
    with pytest.raises(WasmcacheError, match=expected):
        parse_url(url)
