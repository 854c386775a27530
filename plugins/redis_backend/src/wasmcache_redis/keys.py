"""The Redis key of a (namespace, key) pair: ``PREFIX{NAMESPACE}:KEY`` by default.

Built with `wasmcache.storage_key`, so the layout stays the one flat, injective layout of the
core: a namespace is [A-Za-z0-9._-] and never holds ':', '{' or '}', so wrapping it in braces
keeps two different pairs apart whatever bytes the key holds. The braces are a Redis Cluster
hash tag: Redis hashes only what lies between the first '{' and the next '}', which is always
the namespace (the prefix may not contain braces), so every key of one namespace lives in one
slot and multi-key commands (MGET, MULTI/EXEC, Lua) over one namespace never fail with
CROSSSLOT. The same layout is used on a single server, so data moves between the two as is.
"""

from __future__ import annotations

from wasmcache import storage_key


def redis_key(namespace: str, key: bytes, prefix: bytes, hash_tag: bool = True) -> bytes:
    """The stored key; `hash_tag=False` gives ``PREFIX NAMESPACE:KEY`` (spread over slots)."""
    return storage_key("{" + namespace + "}" if hash_tag else namespace, key, prefix=prefix)


def namespace_pattern(namespace: str, prefix: bytes, hash_tag: bool = True) -> bytes:
    """A SCAN MATCH pattern for every key of `namespace` (glob characters escaped)."""
    literal = redis_key(namespace, b"", prefix, hash_tag)
    escaped = bytearray()
    for byte in literal:
        if byte in b"*?[]\\":
            escaped += b"\\"
        escaped.append(byte)
    return bytes(escaped) + b"*"
