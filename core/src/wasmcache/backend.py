"""The protocol every storage backend implements, and how a plugin describes one.

A backend is deliberately small: it stores bytes under (namespace, key) with an optional TTL.
The core has already validated both, turned ttl=0 into a delete and checked the value's size,
so a backend only has to store, expire and isolate namespaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@runtime_checkable
class Backend(Protocol):
    """Storage for one backend URL, shared by every guest of the host.

    `namespace` is 1-64 of [A-Za-z0-9._-] (see `validate_namespace`); `key` is the key's UTF-8,
    1 to `Limits.max_key_bytes` bytes long, any bytes (NUL included). Raise
    `BackendUnavailable` when the store cannot be reached; any other exception becomes the
    `internal` error for the guest.

    Optional capabilities, used when the backend has the method (docs/backends.md, section 5)
    and declared in `BackendSpec.capabilities`: ``check()`` to contact the store once before a
    guest runs (`wasmcache.preflight`), ``usage(namespace) -> (keys, bytes)`` for quotas, for
    wasi:keyvalue ``increment``, ``compare_and_swap``, ``get_many``, ``set_many``,
    ``delete_many`` and ``list_keys`` (signatures and the core's generic fallbacks in
    `wasmcache.capabilities`), and ``describe() -> StoreDescription`` for telemetry.
    """

    def get(self, namespace: str, key: bytes) -> bytes | None:
        """Return the value, or None when it is missing or expired."""
        ...

    def set(self, namespace: str, key: bytes, value: bytes, ttl: int | None) -> None:
        """Store `value`; `ttl` is None (never expires, clearing an older ttl) or >= 1 seconds."""
        ...

    def delete(self, namespace: str, key: bytes) -> None:
        """Remove the key; a missing key is not an error."""
        ...

    def close(self) -> None:
        """Release connections and files; the backend is not used afterwards."""
        ...


def storage_key(namespace: str, key: bytes, prefix: bytes = b"") -> bytes:
    """The one flat-keyspace layout: ``prefix + namespace + b":" + key``.

    Injective because a namespace never contains ':': two different (namespace, key) pairs can
    never produce the same bytes. Backends with a flat keyspace (memory, disk, Redis) use it.
    """
    return prefix + namespace.encode("ascii") + b":" + key


@dataclass(frozen=True, slots=True)
class StoreDescription:
    """What a backend tells telemetry about the store behind it (`Backend.describe`), in the
    words of OpenTelemetry's database conventions; never a credential, key or value.

    The backend builds it from what it already parsed (host and port, never the URL's user
    or password), so the core needs neither the backend's client library nor the URL.
    """

    #: ``db.system.name``: "redis", "postgresql", "mariadb", "mysql", "sqlite", ... (a
    #: well-known value of the conventions where there is one; docs/backends.md lists ours)
    system: str
    #: ``server.address``: the host name, IP address or unix socket path; None for a store
    #: inside this process or on a local file
    address: str | None = None
    #: ``server.port``; None when there is none (a unix socket, a local store)
    port: int | None = None


BackendOpener = Callable[[str], Backend]


@dataclass(frozen=True)
class BackendSpec:
    """What a plugin registers: the URL schemes it serves and how to open a backend for a URL.

    :param schemes: URL schemes, without "://", e.g. ``("redis", "rediss", "unix")``.
    :param open: called with the full URL; raises `WasmcacheError` for a bad URL or option.
    :param description: one line shown by ``wasmcache backends``.
    :param example: an example URL shown by ``wasmcache backends``.
    :param capabilities: the optional methods the opened backend has, in the vocabulary of
        `wasmcache.capabilities.CAPABILITIES` (``check``, ``usage``, ``increment``,
        ``compare_and_swap``, ``get_many``, ``set_many``, ``delete_many``, ``list_keys``,
        ``describe``); listed by ``wasmcache backends`` without opening (or importing) the
        backend, and checked against the opened backend by the contract suite.
    :param accepts_password: the URL's userinfo carries a password
        (``scheme://user:password@host``), so ``backend_password_file`` may supply it
        (`wasmcache.credentials`); False refuses a configured password for these schemes.
    """

    schemes: tuple[str, ...]
    open: BackendOpener
    description: str = ""
    example: str = ""
    capabilities: tuple[str, ...] = field(default_factory=tuple)
    accepts_password: bool = False
