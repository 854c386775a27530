"""Making sure the cache directory is usable before any guest starts.

A directory that cannot be created or written must be one clear `WasmcacheError` at open time
(the CLI prints it and exits 2), never a trap or an ``internal`` error in the middle of a guest.
"""

from __future__ import annotations

import os
import re
import tempfile
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
    """Create and remove a file in `directory`: values of 32 KiB and more are files there."""
    try:
        fd, name = tempfile.mkstemp(dir=directory, prefix=".wasmcache-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise WasmcacheError(f"disk backend: directory {str(directory)!r} is not writable: "
                             f"{_reason(exc)}") from None


def check_layout(directory: Path, shards: int) -> None:
    """Refuse to open a directory with another shard count than it was created with.

    diskcache keeps one database at the top (``cache.db``) or one per shard (``000/cache.db``
    ...); opened with another count, the same directory would silently show other data.
    """
    try:
        names = os.listdir(directory)
    except OSError as exc:
        raise WasmcacheError(f"disk backend: cannot list directory {str(directory)!r}: "
                             f"{_reason(exc)}") from None
    single = DBNAME in names
    found = sum(1 for name in names
                if _SHARD_DIR.fullmatch(name) and (directory / name / DBNAME).exists())
    where = f"disk backend: {str(directory)!r}"
    if shards == 1 and found:
        raise WasmcacheError(f"{where} holds a cache of {found} shards: open it with "
                             f"?shards={found}")
    if shards > 1 and single:
        raise WasmcacheError(f"{where} holds an unsharded cache: open it without ?shards "
                             f"(or with shards=1), or use another directory for {shards} shards")
    if shards > 1 and found and found != shards:
        raise WasmcacheError(f"{where} holds a cache of {found} shards, not {shards}: open it "
                             f"with ?shards={found}")


def shard_directories(directory: Path, shards: int) -> list[Path]:
    """Where diskcache puts the databases (and value files) of a cache of `shards` shards."""
    if shards == 1:
        return [directory]
    return [directory / f"{num:03d}" for num in range(shards)]
