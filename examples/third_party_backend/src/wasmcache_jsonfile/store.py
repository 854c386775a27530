"""``jsonfile://PATH``: the whole cache in one JSON file.

URLs: ``jsonfile://cache.json`` (relative to the working directory) or
``jsonfile:///var/lib/cache.json`` (absolute); the path is percent-decoded. There are no options:
a query string is refused. The directory must exist; the file is created at the first write.

Every call reads the whole file under a lock (``fcntl.flock`` on ``PATH.lock``: shared for
reads, exclusive for writes) and a write replaces the file atomically (a temporary file, then
``os.replace``), so several processes and threads can share one file. Each call costs time in
proportion to the file's size: this is an example of how a backend is built, not a store for
large caches.

File layout (values base64, deadlines in Unix seconds, null for "never")::

    {"format": 1, "namespaces": {"NS": {"KEY": [deadline, "base64 value"]}}}
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

from wasmcache import BackendUnavailable, WasmcacheError

FORMAT = 1
Data = dict[str, Any]
T = TypeVar("T")


def open_jsonfile(url: str) -> JsonFileBackend:
    """The opener registered for ``jsonfile://``: a bad URL is one `WasmcacheError` line."""
    rest = url.split("://", 1)[1]
    raw_path, _, query = rest.partition("?")
    if query:
        raise WasmcacheError(f"jsonfile:// takes no options, got ?{query}")
    if not raw_path:
        raise WasmcacheError("jsonfile:// needs a file path, e.g. jsonfile:///tmp/cache.json")
    path = Path(unquote(raw_path))
    if not path.parent.is_dir():
        raise WasmcacheError(f"jsonfile://: directory {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise WasmcacheError(f"jsonfile://: {str(path)!r} is a directory, not a file")
    backend = JsonFileBackend(path)
    try:
        backend._read(lambda data: None)  # a corrupt file is reported at start, not per call
    except ValueError as exc:
        raise WasmcacheError(f"jsonfile://: {str(path)!r} is not a cache file: {exc}") from exc
    return backend


class JsonFileBackend:
    """Implements wasmcache's Backend protocol (and the optional ``usage``) on one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")

    # --- the Backend protocol -----------------------------------------------------------
    def get(self, namespace: str, key: bytes) -> bytes | None:
        def read(data: Data) -> bytes | None:
            entry = data["namespaces"].get(namespace, {}).get(_key(key))
            if entry is None or _expired(entry):
                return None
            return base64.b64decode(entry[1])

        return self._read(read)

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        deadline = None if ttl is None else time.time() + ttl
        entry = [deadline, base64.b64encode(value).decode("ascii")]
        self._write(lambda data: data["namespaces"].setdefault(namespace, {})
                    .__setitem__(_key(key), entry))

    def delete(self, namespace: str, key: bytes) -> None:
        self._write(lambda data: data["namespaces"].get(namespace, {}).pop(_key(key), None))

    def close(self) -> None:
        """Nothing to release: no file stays open between calls."""

    # --- optional capability ------------------------------------------------------------
    def usage(self, namespace: str) -> tuple[int, int]:
        """(live keys, bytes of their values) in `namespace`: lets quotas hold across runs."""
        def count(data: Data) -> tuple[int, int]:
            live = [entry for entry in data["namespaces"].get(namespace, {}).values()
                    if not _expired(entry)]
            return len(live), sum(len(base64.b64decode(entry[1])) for entry in live)

        return self._read(count)

    # --- the file -----------------------------------------------------------------------
    def _read(self, func: Callable[[Data], T]) -> T:
        with self._locked(fcntl.LOCK_SH):
            return func(self._load())

    def _write(self, change: Callable[[Data], object]) -> None:
        with self._locked(fcntl.LOCK_EX):
            data = self._load()
            change(data)
            for entries in data["namespaces"].values():  # drop what has expired meanwhile
                for name in [name for name, entry in entries.items() if _expired(entry)]:
                    del entries[name]
            data["namespaces"] = {ns: entries for ns, entries in data["namespaces"].items()
                                  if entries}
            self._store(data)

    @contextmanager
    def _locked(self, mode: int) -> Iterator[None]:
        """Hold the lock file; an OS error here or inside means the store cannot be reached."""
        try:
            with open(self.lock_path, "a+b") as lock:
                fcntl.flock(lock, mode)
                yield
        except OSError as exc:
            raise BackendUnavailable(f"{self.path}: {exc.strerror or exc}") from exc

    def _load(self) -> Data:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {"format": FORMAT, "namespaces": {}}
        data = json.loads(text)  # ValueError (not OSError): a corrupt file is `internal`
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"not a format-{FORMAT} cache file")
        return data

    def _store(self, data: Data) -> None:
        fd, tmp = tempfile.mkstemp(prefix=self.path.name + ".", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, separators=(",", ":"))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _key(key: bytes) -> str:
    """Keys are UTF-8 (the core checked); surrogateescape keeps any byte reversible anyway."""
    return key.decode("utf-8", "surrogateescape")


def _expired(entry: list[Any]) -> bool:
    return entry[0] is not None and entry[0] <= time.time()
