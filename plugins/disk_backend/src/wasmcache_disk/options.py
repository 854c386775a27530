"""Parsing ``disk://`` URLs into a directory and diskcache settings.

    disk://.wasmcache                   ./.wasmcache, relative to the working directory
    disk://data/cache                   ./data/cache (anything not starting with / is relative)
    disk:///var/lib/wasmcache           an absolute directory
    disk:///srv/c?size_limit=4GiB&eviction_policy=least-recently-used&shards=4&timeout=10
    disk:///srv/c?journal_mode=wal     faster writes, but see ``journal_mode`` below

The path is percent-decoded (``%20`` is a space, ``%3F`` a ``?``, ``%25`` a ``%``).

Query options (each at most once; anything else is an error naming the option):

``size_limit``
    Bytes the cache may use before diskcache evicts entries, as an integer or with a suffix:
    ``500MB``, ``1GiB``, ``1.5GiB`` (kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024).
    diskcache's default is 1 GiB. With ``shards`` every shard gets an equal part.
``eviction_policy``
    Which entries go first when the size limit is reached, one of diskcache's policies:
    ``least-recently-stored`` (diskcache's default), ``least-recently-used``,
    ``least-frequently-used`` or ``none`` (never evict; ``size_limit`` is then ignored).
``cull_limit``
    At most this many expired or evicted entries are removed per write (diskcache default 10;
    0 turns culling on writes off).
``shards``
    1 (default) is one SQLite database; N > 1 spreads keys over N databases with diskcache's
    ``FanoutCache`` so writers of different keys do not wait for one lock. A directory keeps
    the shard count it was created with: opening it with another count is an error.
``timeout``
    Seconds a call waits for another writer's SQLite lock before it answers ``unavailable``
    (default 5).
``journal_mode``
    SQLite's journal, set on every open: ``truncate`` (default), ``persist`` or ``wal``. The
    two rollback journals map nothing writable, so a directory that turns read-only or
    immutable under a running host makes the next write answer ``internal`` while reads go on.
    ``wal`` (diskcache's own default) memory-maps its index, ``cache.db-shm``, for writing: in
    that situation the next call, a read too, faults on the mapping and SIGBUS kills the whole
    host. ``truncate`` empties the journal after each commit, so a read finds no journal to
    open; ``persist`` keeps it (header zeroed), so its blocks stay allocated and small
    overwrites and a reopen still work on a disk with no byte free, but every read opens it.
    Every mode runs SQLite's ``synchronous=NORMAL``: the rollback journals fsync three
    (``truncate``) or four (``persist``) times per write, WAL only at checkpoints, so its
    writes are one to two orders of magnitude faster (the README has the measured table).
    WAL is a property of the database file: a process that opens it with ``wal`` switches it
    for every process, and switching back needs it to be the only user (otherwise the open
    fails with one line saying so).

diskcache stores its settings in the cache: an option given once stays in force for later
opens of the same directory that do not give it.
"""

from __future__ import annotations

import math
import os.path
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import unquote

from diskcache import EVICTION_POLICY
from wasmcache import WasmcacheError

SCHEME = "disk"
DEFAULT_TIMEOUT = 5.0
MAX_SHARDS = 256  # FanoutCache names shard directories 000..999; more than this never helps
MAX_TIMEOUT = 3600.0
JOURNAL_MODES = ("truncate", "persist", "wal")
DEFAULT_JOURNAL_MODE = "truncate"  # never "wal" by default: see journal_mode above
#: SQLite settings passed on every open, whatever the directory has stored (a directory made
#: by plain diskcache may hold others). NORMAL (1) keeps the database consistent through a
#: power loss in every journal mode; OFF would save the fsyncs but could corrupt it. The
#: database file is never memory-mapped: SQLite reports an I/O error on a read as an error,
#: whereas the same error on a mapped page is a SIGBUS that kills the host.
SQLITE_SETTINGS = {"sqlite_synchronous": 1, "sqlite_mmap_size": 0}
#: diskcache's `disk_min_file_size`: values below it live inside SQLite's database. diskcache
#: writes larger ones to separate files that it never fsyncs (after a simulated crash such a
#: value read back as b"") and replaces them non-atomically (a concurrent reader could miss
#: it), so every value wasmcache can store stays in the database, journaled and synced with
#: its commit. 10**9 is SQLite's default maximum BLOB length.
INLINE_VALUES_BELOW = 10**9

_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}
_SIZE = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*")


@dataclass(frozen=True)
class DiskOptions:
    """What a ``disk://`` URL asks for. `settings` are passed to diskcache as they are."""

    directory: Path
    shards: int = 1
    timeout: float = DEFAULT_TIMEOUT
    size_limit: int | None = None
    eviction_policy: str | None = None
    cull_limit: int | None = None
    journal_mode: str = DEFAULT_JOURNAL_MODE

    @property
    def settings(self) -> dict[str, int | str]:
        """Only the diskcache settings the URL names, so the others keep their stored values.

        The journal mode is always given: a directory made earlier (or by plain diskcache)
        has WAL stored in its settings, and that must not survive an open that did not ask.
        So are `SQLITE_SETTINGS` and the inline-value threshold (`INLINE_VALUES_BELOW`), for
        the same reason.
        """
        given = {"size_limit": self.size_limit, "eviction_policy": self.eviction_policy,
                 "cull_limit": self.cull_limit}
        chosen = {name: value for name, value in given.items() if value is not None}
        return {**chosen, "sqlite_journal_mode": self.journal_mode, **SQLITE_SETTINGS,
                "disk_min_file_size": INLINE_VALUES_BELOW}


def parse_size(text: str) -> int:
    """``"1GiB"`` -> 1073741824; raises ValueError for anything that is not a positive size."""
    match = _SIZE.fullmatch(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(text)
    try:
        size = Decimal(match.group(1)) * _UNITS[match.group(2).lower()]
    except InvalidOperation:
        raise ValueError(text) from None
    if size != size.to_integral_value() or size < 1:
        raise ValueError(text)
    return int(size)


def _bad(url: str, name: str, expected: str, value: str) -> WasmcacheError:
    return WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: option {name} must be {expected}, "
                          f"not {value!r}")


def _int(url: str, name: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value, 10)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise _bad(url, name, f"an integer from {low} to {high}", value)
    return number


def _seconds(url: str, name: str, value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:  # also false for nan
        raise _bad(url, name, f"a number of seconds above 0 and at most {MAX_TIMEOUT:g}", value)
    return seconds


def _size(url: str, name: str, value: str) -> int:
    try:
        return parse_size(value)
    except ValueError:
        raise _bad(url, name, "a positive number of bytes, e.g. 1073741824, 500MB or 1GiB",
                   value) from None


def _journal(url: str, name: str, value: str) -> str:
    if value not in JOURNAL_MODES:
        raise _bad(url, name, f"{', '.join(JOURNAL_MODES[:-1])} or {JOURNAL_MODES[-1]}", value)
    return value


def _policy(url: str, name: str, value: str) -> str:
    if value not in EVICTION_POLICY:
        raise _bad(url, name, "one of " + ", ".join(sorted(EVICTION_POLICY)), value)
    return value


_PARSERS = {
    "size_limit": _size,
    "eviction_policy": _policy,
    "cull_limit": lambda url, name, value: _int(url, name, value, 0, 2**31 - 1),
    "shards": lambda url, name, value: _int(url, name, value, 1, MAX_SHARDS),
    "timeout": _seconds,
    "journal_mode": _journal,
}


def parse_url(url: str, cwd: Path | None = None) -> DiskOptions:
    """Split a ``disk://`` URL into an absolute directory and checked options.

    A relative path is made absolute now, against `cwd` (default: the working directory), so
    a later ``chdir`` cannot move the store.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != SCHEME:
        raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: expected disk://DIRECTORY")
    raw_path, _, query = rest.partition("?")
    if "#" in raw_path or "#" in query:
        raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: a '#' must be written %23")
    try:
        path = unquote(raw_path, errors="strict")
    except UnicodeDecodeError:
        raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: the directory's %-escapes "
                             "are not UTF-8") from None
    if not path:
        raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: no directory; use e.g. "
                             "disk://.wasmcache (relative) or disk:///var/lib/wasmcache")
    if "\0" in path:
        raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: the directory contains NUL")
    directory = Path(path)
    if not directory.is_absolute():
        try:
            directory = (cwd or Path.cwd()) / directory
        except OSError as exc:
            raise WasmcacheError(f"{SCHEME}:// URL {url!r} is relative, but the working "
                                 f"directory is unusable: {exc.strerror}") from None
    values: dict[str, object] = {}
    for part in query.split("&") if query else ():
        name, eq, value = (unquote(text) for text in part.partition("="))
        if not eq:
            raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: options must be written "
                                 f"?name=value&name=value, not {part!r}")
        parser = _PARSERS.get(name)
        if parser is None:
            raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: unknown option {name!r} "
                                 f"(expected one of: {', '.join(sorted(_PARSERS))})")
        if name in values:
            raise WasmcacheError(f"invalid {SCHEME}:// URL {url!r}: option {name} is given "
                                 "more than once")
        values[name] = parser(url, name, value)
    # normpath collapses "." and ".." textually, like os.path.abspath; symlinks stay as they are
    directory = Path(os.path.normpath(directory))
    return DiskOptions(directory=directory, **values)  # type: ignore[arg-type]
