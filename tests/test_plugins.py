"""Backend discovery: the scheme table, hints for missing plugins, switching plugins off."""

from __future__ import annotations

import pytest
from wasmcache import WasmcacheError
from wasmcache.plugins import build_registry, mask_url


def test_memory_is_registered_as_an_internal_plugin() -> None:
    registry = build_registry()
    entry = registry.backends["memory"]
    assert entry.plugin == "memory"
    assert entry.distribution == "wasmcache"
    assert registry.failures == []


def test_disabled_plugins_are_blocked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WASMCACHE_DISABLE_PLUGINS", " memory , other")
    registry = build_registry()
    assert "memory" not in registry.backends
    assert registry.pm.is_blocked("memory")


@pytest.mark.parametrize(
    ("url", "hint"),
    [("sqlite:///x.db", "wasmcache-sql"),
     ("postgresql+psycopg://h/db", "wasmcache-sql[postgresql]"),
     ("mysql+pymysql://h/db", "wasmcache-sql[mysql]"), ("rediss://h", "wasmcache-redis"),
     ("disk://.x", "wasmcache-disk")],
)
def test_known_schemes_without_their_plugin_name_the_pip_install(
        monkeypatch: pytest.MonkeyPatch, url: str, hint: str) -> None:
    monkeypatch.setenv("WASMCACHE_DISABLE_PLUGINS", "disk,redis,sql")
    with pytest.raises(WasmcacheError, match="pip install") as info:
        build_registry().lookup(url)
    assert hint in str(info.value)


def test_scheme_lookup_is_case_insensitive() -> None:
    assert build_registry().lookup("MEMORY://x").spec.schemes == ("memory",)


@pytest.mark.parametrize(
    ("url", "masked"),
    [("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
     ("postgresql+psycopg://user:pa:ss@h/db", "postgresql+psycopg://user:***@h/db"),
     ("redis://user@h/0", "redis://user@h/0"),
     ("memory://", "memory://")],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked
