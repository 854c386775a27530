"""Opening ``disk://``: start-up errors, the storage layout in diskcache, and lock handling."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import diskcache
import pytest
from wasmcache import BackendUnavailable, CacheError, GuestSession, WasmcacheError, storage_key
from wasmcache.testing.contract import unique_namespace
from wasmcache_disk import DiskBackend, open_disk

from ._support import read_only_directory

MIB = 1024 * 1024


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def backend(directory: Path) -> Iterator[DiskBackend]:
    opened = open_disk(f"disk://{directory}")
    try:
        yield opened
    finally:
        opened.close()


def open_error(url: str) -> str:
    with pytest.raises(WasmcacheError) as info:
        open_disk(url).close()
    message = str(info.value)
    assert "\n" not in message
    return message


# --- start-up errors ----------------------------------------------------------------------
def test_missing_directory_and_parents_are_created(directory: Path) -> None:
    open_disk(f"disk://{directory / 'a' / 'b'}").close()
    assert (directory / "a" / "b" / "cache.db").is_file()


def test_a_file_in_the_way_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    message = open_error(f"disk://{tmp_path / 'file'}")
    assert "file is in the way" in message and str(tmp_path / "file") in message


def test_a_parent_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    message = open_error(f"disk://{tmp_path / 'file' / 'cache'}")
    assert "cannot create directory" in message and "is a file" in message


def test_a_read_only_directory_is_a_clear_error(tmp_path: Path) -> None:
    with read_only_directory(tmp_path / "ro") as ro:
        assert "is not writable" in open_error(f"disk://{ro}")
        assert "cannot create directory" in open_error(f"disk://{ro / 'sub'}")


def test_an_existing_cache_made_read_only_is_a_clear_error(tmp_path: Path) -> None:
    url = f"disk://{tmp_path / 'ro'}"
    writable = open_disk(url)
    writable.set("ns", b"k", b"v", None)
    writable.close()
    with read_only_directory(tmp_path / "ro"):
        assert "is not writable" in open_error(url)


def test_the_shard_count_cannot_change(directory: Path) -> None:
    open_disk(f"disk://{directory}?shards=3").close()
    assert "?shards=3" in open_error(f"disk://{directory}")
    assert "?shards=3" in open_error(f"disk://{directory}?shards=2")
    open_disk(f"disk://{directory}?shards=3").close()
    open_disk(f"disk://{directory / 'one'}").close()
    assert "unsharded" in open_error(f"disk://{directory / 'one'}?shards=2")


def test_the_shard_count_of_a_plain_diskcache_directory_is_kept(tmp_path: Path) -> None:
    diskcache.FanoutCache(str(tmp_path / "fanout"), shards=3).close()
    diskcache.Cache(str(tmp_path / "plain")).close()
    assert "?shards=3" in open_error(f"disk://{tmp_path / 'fanout'}")
    assert "unsharded" in open_error(f"disk://{tmp_path / 'plain'}?shards=3")
    open_disk(f"disk://{tmp_path / 'fanout'}?shards=3").close()
    open_disk(f"disk://{tmp_path / 'plain'}").close()


# --- layout: storage_key -> bytes, ttl as diskcache's expire ---------------------------------
@pytest.mark.parametrize("size", [0, 1, 32 * 1024 - 1, 32 * 1024, MIB])
def test_values_round_trip_exactly_as_bytes(backend: DiskBackend, size: int) -> None:
    value = (bytes(range(256)) * (size // 256 + 1))[:size]
    backend.set("ns", b"k", value, None)
    got = backend.get("ns", b"k")
    assert type(got) is bytes and got == value


def test_large_values_live_in_the_database_not_in_unsynced_files(backend: DiskBackend,
                                                                 directory: Path) -> None:
    """diskcache never fsyncs its value files: every value must be inside SQLite's database."""
    for size in (32 * 1024, MIB):
        backend.set("ns", f"k{size}".encode(), b"\xff" * size, None)
    backend.set("ns", f"k{MIB}".encode(), b"\x01" * MIB, None)  # an overwrite, too
    assert list(directory.rglob("*.val")) == []  # diskcache's value files
    with diskcache.Cache(str(directory)) as plain:
        assert plain.get(storage_key("ns", f"k{MIB}".encode())) == b"\x01" * MIB


def test_entries_are_plain_diskcache_entries(backend: DiskBackend, directory: Path) -> None:
    backend.set("ns", b"k\0:x", b"value", None)
    backend.set("ns", b"ttl", b"short", 100)
    with diskcache.Cache(str(directory)) as plain:
        assert plain.get(storage_key("ns", b"k\0:x")) == b"value"
        value, deadline = plain.get(storage_key("ns", b"ttl"), expire_time=True)
        assert value == b"short" and 90 < deadline - time.time() <= 100


def test_set_without_ttl_clears_the_stored_deadline(backend: DiskBackend,
                                                    directory: Path) -> None:
    backend.set("ns", b"k", b"v1", 60)
    backend.set("ns", b"k", b"v2", None)
    with diskcache.Cache(str(directory)) as plain:
        assert plain.get(storage_key("ns", b"k"), expire_time=True) == (b"v2", None)


def test_sharded_entries_are_where_fanoutcache_looks(directory: Path) -> None:
    sharded = open_disk(f"disk://{directory}?shards=5")
    try:
        for index in range(50):
            sharded.set("ns", f"k{index}".encode(), f"v{index}".encode(), None)
    finally:
        sharded.close()
    with diskcache.FanoutCache(str(directory), shards=5) as fanout:
        for index in range(50):
            assert fanout.get(storage_key("ns", f"k{index}".encode())) == f"v{index}".encode()


def test_a_value_that_is_not_bytes_is_an_internal_error(backend: DiskBackend,
                                                        directory: Path) -> None:
    with diskcache.Cache(str(directory)) as plain:
        plain.set(storage_key("ns", b"k"), {"not": "bytes"})
    assert GuestSession(backend, "ns").get("k") == CacheError.INTERNAL


# --- a held lock: unavailable after the timeout, reads keep working --------------------------
def hold_write_locks(databases: list[Path]) -> list[sqlite3.Connection]:
    held = []
    for database in databases:
        con = sqlite3.connect(str(database), isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        held.append(con)
    return held


@pytest.mark.parametrize("shards", [1, 3])
def test_a_lock_held_past_the_timeout_is_unavailable(directory: Path, shards: int) -> None:
    url = f"disk://{directory}?timeout=0.2" + (f"&shards={shards}" if shards > 1 else "")
    opened = open_disk(url)
    host = GuestSession(opened, unique_namespace())
    assert host.set("k", b"before", None) is None
    databases = sorted(directory.glob("cache.db" if shards == 1 else "*/cache.db"))
    assert len(databases) == shards
    held = hold_write_locks(databases)
    try:
        started = time.monotonic()
        with pytest.raises(BackendUnavailable):
            opened.set(host.namespace, b"k", b"during", None)
        assert time.monotonic() - started < 0.2 + 5  # the configured timeout plus a margin
        assert host.set("k", b"during", None) == CacheError.UNAVAILABLE
        assert host.set("big", b"x" * MIB, None) == CacheError.UNAVAILABLE
        assert host.delete("k") == CacheError.UNAVAILABLE
        assert host.get("k") == b"before"  # a reserved lock does not stop readers
    finally:
        for con in held:
            con.rollback()
            con.close()
    assert host.set("k", b"after", None) is None
    assert host.get("k") == b"after"
    opened.close()
    leftovers = list(directory.rglob("*.val"))
    assert leftovers == [], "a refused 1 MiB set must not leave its value file behind"


# --- journal mode: never diskcache's WAL unless the URL asks -------------------------------
def file_format(database: Path) -> str:
    """What the database file itself says: WAL is persistent, bytes 18-19 of the header are 2."""
    header = database.read_bytes()[:20]
    return "wal" if header[18:20] == b"\x02\x02" else "rollback"


def pragmas(backend: DiskBackend) -> tuple[str | int, ...]:
    """(journal_mode, synchronous, mmap_size) of the backend's own connection."""
    def pragma(name: str) -> str | int:
        return backend.cache._sql(f"PRAGMA {name}").fetchone()[0]

    return pragma("journal_mode"), pragma("synchronous"), pragma("mmap_size")


def test_the_default_is_a_rollback_journal_with_nothing_mapped(directory: Path) -> None:
    opened = open_disk(f"disk://{directory}")
    try:
        assert pragmas(opened) == ("truncate", 1, 0)  # NORMAL; the database is never mapped
        opened.set("ns", b"k", b"v", None)
        assert not (directory / "cache.db-shm").exists()  # no WAL index to memory-map
        # emptied after the commit: a read finds no journal to open
        assert (directory / "cache.db-journal").stat().st_size == 0
    finally:
        opened.close()
    assert file_format(directory / "cache.db") == "rollback"


def test_a_directory_of_the_earlier_persist_default_is_opened_in_truncate(directory: Path
                                                                          ) -> None:
    earlier = open_disk(f"disk://{directory}?journal_mode=persist")
    try:
        earlier.set("ns", b"k", b"kept", None)
        assert (directory / "cache.db-journal").stat().st_size > 0  # persist keeps it
        opened = open_disk(f"disk://{directory}")  # while the persist host still has it open
        try:
            assert pragmas(opened)[0] == "truncate"
            assert opened.get("ns", b"k") == b"kept"
            opened.set("ns", b"k", b"new", None)
            assert earlier.get("ns", b"k") == b"new"
        finally:
            opened.close()
    finally:
        earlier.close()


def test_settings_stored_by_plain_diskcache_do_not_survive_an_open(directory: Path) -> None:
    diskcache.Cache(str(directory), sqlite_synchronous=0, sqlite_mmap_size=2**26).close()
    opened = open_disk(f"disk://{directory}")
    try:
        assert pragmas(opened) == ("truncate", 1, 0)
    finally:
        opened.close()


def test_a_wal_directory_from_plain_diskcache_is_switched(directory: Path) -> None:
    plain = diskcache.Cache(str(directory))  # diskcache's default: WAL
    plain.set(storage_key("ns", b"k"), b"kept")
    plain.close()
    assert file_format(directory / "cache.db") == "wal"
    opened = open_disk(f"disk://{directory}")
    try:
        assert opened.get("ns", b"k") == b"kept"
    finally:
        opened.close()
    assert file_format(directory / "cache.db") == "rollback"
    reopened = diskcache.Cache(str(directory))  # the setting is stored: diskcache keeps it
    try:
        assert reopened._sql("PRAGMA journal_mode").fetchone()[0] == "truncate"
    finally:
        reopened.close()


def test_a_wal_directory_another_process_holds_is_one_clear_line(directory: Path) -> None:
    plain = diskcache.Cache(str(directory))
    plain.set(b"k", b"v")  # its connection stays open, as another host's would
    try:
        started = time.monotonic()
        message = open_error(f"disk://{directory}?timeout=0.3")
        assert time.monotonic() - started < 0.3 + 5
        assert "journal_mode=truncate" in message and "?journal_mode=wal" in message
        open_disk(f"disk://{directory}?journal_mode=wal").close()  # joining it in WAL works
    finally:
        plain.close()


def test_journal_mode_wal_is_there_when_asked_for(directory: Path) -> None:
    opened = open_disk(f"disk://{directory}?journal_mode=wal&shards=2")
    try:
        opened.set("ns", b"k", b"v", None)
    finally:
        opened.close()
    assert {file_format(db) for db in directory.glob("*/cache.db")} == {"wal"}
    open_disk(f"disk://{directory}?shards=2").close()  # and switched back by a default open
    assert {file_format(db) for db in directory.glob("*/cache.db")} == {"rollback"}
