"""Making sure the cache directory is usable before any guest starts.

A directory that cannot be created or written must be one clear `WasmcacheError` at open time
(the CLI prints it and exits 2), never a trap or an ``internal`` error in the middle of a guest.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import time
from pathlib import Path

from wasmcache import WasmcacheError

DBNAME = "cache.db"  # diskcache's file name for its SQLite database
_SHARD_DIR = re.compile(r"[0-9]{3}")  # FanoutCache's shard directories: 000, 001, ...


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def create_directory(directory: Path) -> None:
    """Create `directory` (and its parents) or explain in one line why it cannot be."""
    if directory.exists() and not directory.is_dir():
        raise WasmcacheError(f"disk backend: {str(directory)!r} exists and is not a directory "
                             "(a file is in the way)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except NotADirectoryError:
        raise WasmcacheError(f"disk backend: cannot create directory {str(directory)!r}: "
                             "a part of its path is a file, not a directory") from None
    except FileExistsError:
        raise WasmcacheError(f"disk backend: {str(directory)!r} exists and is not a "
                             "directory (a file is in the way)") from None
    except OSError as exc:
        raise WasmcacheError(f"disk backend: cannot create directory {str(directory)!r}: "
                             f"{_reason(exc)}") from None


def check_writable(directory: Path) -> None:
    """Create and remove a file in `directory`, where SQLite creates its journal files."""
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".wasmcache-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise WasmcacheError(f"disk backend: directory {str(directory)!r} is not writable: "
                             f"{_reason(exc)}") from None


LAYOUT_FILE = "wasmcache-layout"  # "shards=N": the count the directory was created with


def _existing_shards(directory: Path) -> int | None:
    """The shard count diskcache's files show, or None when there is no database yet."""
    names = os.listdir(directory)
    found = sum(1 for name in names
                if _SHARD_DIR.fullmatch(name) and (directory / name / DBNAME).exists())
    if DBNAME in names:
        return 1
    return found or None


def _read_layout(marker: Path) -> int | None:
    try:
        text = marker.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise WasmcacheError(f"disk backend: cannot read {str(marker)!r}: "
                             f"{getattr(exc, 'strerror', None) or exc}") from None
    name, _, value = text.partition("=")
    if name.strip() != "shards" or not value.strip().isdigit():
        raise WasmcacheError(f"disk backend: {str(marker)!r} should hold shards=N, not "
                             f"{text[:40]!r}")
    return int(value)


def _write_layout(directory: Path, marker: Path, shards: int) -> None:
    """Create the marker atomically (a complete file appears, or nothing): first one wins.

    Its bytes are on disk before its name is: otherwise a crash or a filesystem that shuts
    down soon after can leave an empty marker, and the directory would never open again.
    """
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".wasmcache-layout-")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(f"shards={shards}\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.link(temp, marker)
    except FileExistsError:
        pass  # another process opened the new directory at the same moment: its count stands
    finally:
        os.unlink(temp)


def ensure_layout(directory: Path, shards: int) -> None:
    """Refuse to open a directory with another shard count than it was created with.

    diskcache keeps one database at the top (``cache.db``) or one per shard (``000/cache.db``
    ...); opened with another count, the same directory would silently show other data. The
    count is recorded in a small file before any database is created, so two processes that
    create the directory at once agree (reading half-created shards could not tell).
    """
    marker = directory / LAYOUT_FILE
    try:
        recorded = _read_layout(marker)
        if recorded is None:
            _write_layout(directory, marker, _existing_shards(directory) or shards)
            recorded = _read_layout(marker)
    except OSError as exc:
        raise WasmcacheError(f"disk backend: cannot record the layout in {str(directory)!r}: "
                             f"{_reason(exc)}") from None
    if recorded == shards:
        return
    where = f"disk backend: {str(directory)!r}"
    if recorded == 1:
        raise WasmcacheError(f"{where} holds an unsharded cache: open it without ?shards "
                             f"(or with shards=1), or use another directory for {shards} shards")
    raise WasmcacheError(f"{where} holds a cache of {recorded} shards, not {shards}: open it "
                         f"with ?shards={recorded}")


def shard_directories(directory: Path, shards: int) -> list[Path]:
    """Where diskcache puts the databases (and value files) of a cache of `shards` shards."""
    if shards == 1:
        return [directory]
    return [directory / f"{num:03d}" for num in range(shards)]


def _switch_journal(database: Path, mode: str, timeout: float) -> tuple[str | None, str]:
    """(the journal mode SQLite answered, why it is not `mode`), on a connection of our own."""
    try:
        con = sqlite3.connect(str(database), timeout=timeout, isolation_level=None)
        try:
            (current,) = con.execute(f"PRAGMA journal_mode={mode}").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        return None, str(exc)
    return current, f"it stayed in {current} mode"


def in_wal(database: Path) -> bool:
    """Whether the database file is in WAL mode: bytes 18 and 19 of its header are 2 (they are
    1 for the rollback journals, whose mode is each connection's own)."""
    with open(database, "rb") as fh:
        return fh.read(20)[18:20] == b"\x02\x02"


def apply_journal_mode(directory: Path, shards: int, mode: str, timeout: float) -> None:
    """Put every existing database in journal `mode` before diskcache opens it, or say why not.

    diskcache sets the mode as well, but leaving WAL needs the database to itself: while
    another process has it open SQLite refuses at once, and diskcache would retry that for
    60 s and then fail. A database not created yet gets its mode from diskcache, and so does
    one already in a rollback journal opened for one: those modes belong to the connection,
    so there is nothing to switch (asking SQLite anyway needs a shared lock, which writers of
    other processes can keep from it for longer than `timeout`). Refusals are retried for
    `timeout` seconds: another process may be switching the same database.
    """
    for shard_dir in shard_directories(directory, shards):
        database = shard_dir / DBNAME
        if not database.exists():
            continue
        try:
            if mode != "wal" and not in_wal(database):
                continue
        except OSError:
            pass  # unreadable: let SQLite say why below
        deadline = time.monotonic() + timeout
        while True:
            current, reason = _switch_journal(database, mode, timeout)
            busy = current == "wal" or "locked" in reason
            if current == mode or not busy or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if current != mode:
            busy = busy and mode != "wal"
            hint = (" (another process has it open in WAL mode: stop that process, or open "
                    "with ?journal_mode=wal)" if busy else "")
            raise WasmcacheError(f"disk backend: cannot switch {str(database)!r} to "
                                 f"journal_mode={mode}: {reason}{hint}")
