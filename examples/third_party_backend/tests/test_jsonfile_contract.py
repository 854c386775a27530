"""wasmcache-jsonfile's tests: the contract suite plus what is particular to this backend.

They use only wasmcache's public API (``wasmcache`` and ``wasmcache.testing``), and expect the
package to be installed (``pip install .[test]``), as any third party's tests would.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from wasmcache import CacheError, GuestSession, WasmcacheError, open_backend
from wasmcache.testing import BackendContractTests


class TestJsonFileContract(BackendContractTests):
    """Every line of the cache contract, on a fresh JSON file per test."""

    @pytest.fixture
    def backend_url(self, tmp_path: Path) -> str:
        return f"jsonfile://{tmp_path / 'cache.json'}"


def test_the_entry_point_is_registered() -> None:
    found = [ep for ep in importlib.metadata.entry_points(group="wasmcache")
             if ep.name == "jsonfile"]
    assert [ep.value for ep in found] == ["wasmcache_jsonfile"]


def test_data_outlives_the_backend(tmp_path: Path) -> None:
    url = f"jsonfile://{tmp_path / 'cache.json'}"
    first = open_backend(url)
    GuestSession(first, "app").set("k", b"v", None)
    first.close()
    second = open_backend(url)
    assert GuestSession(second, "app").get("k") == b"v"
    second.close()


def test_usage_counts_live_keys_and_bytes(tmp_path: Path) -> None:
    backend = open_backend(f"jsonfile://{tmp_path / 'cache.json'}")
    backend.set("app", b"a", b"123", None)
    backend.set("app", b"b", b"45", 3600)
    backend.set("other", b"a", b"6789", None)
    assert backend.usage("app") == (2, 5)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("suffix", "message"),
    [("", "needs a file path"), ("/no/such/dir/cache.json", "does not exist"),
     ("{tmp}?x=1", "takes no options"), ("{tmp}", "is a directory")],
)
def test_bad_urls_are_one_clear_error(tmp_path: Path, suffix: str, message: str) -> None:
    with pytest.raises(WasmcacheError, match=message):
        open_backend("jsonfile://" + suffix.format(tmp=tmp_path))


def test_a_file_that_is_not_a_cache_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("[1, 2, 3]")
    with pytest.raises(WasmcacheError, match="not a cache file"):
        open_backend(f"jsonfile://{path}")


def test_a_vanished_directory_is_unavailable_not_internal(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    backend = open_backend(f"jsonfile://{store / 'cache.json'}")
    host = GuestSession(backend, "app")
    assert host.set("k", b"v", None) is None
    (store / "cache.json").unlink()
    (store / "cache.json.lock").unlink()
    store.rmdir()
    assert host.get("k") == CacheError.UNAVAILABLE
    assert host.set("k", b"v", None) == CacheError.UNAVAILABLE
