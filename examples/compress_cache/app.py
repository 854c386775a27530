"""compress_cache: a cache middleware that compresses large values on their way down.

It exports wasmcache:cache/cache@0.1.0 to the layer above (a guest, or another cache component)
and imports the same interface from the layer below (the next --cache-component, or the host):

    wasmcache run --cache-component compress_cache.wasm --backend redis://... guest.wasm

A value of at least THRESHOLD bytes is stored deflated when that makes it smaller; everything
else is stored as it is. A get restores exactly the bytes that were set. See README.md for the
stored format and why plain values cannot be mistaken for compressed ones.
"""

import zlib

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import cache as below
from wit_world.imports.cache import Error

MAX_KEY_BYTES = 250
MAX_VALUE_BYTES = 1024 * 1024
THRESHOLD = 1024  # smaller values are not worth a header and a deflate
LEVEL = 6  # zlib's default: 1 MiB of text deflates in tens of ms

# The header of every value this middleware transforms: an 8-byte signature built like PNG's
# (a byte above 0x7F, CR LF, ^Z, LF: no text starts with it, and any newline or encoding
# conversion breaks it), the method, the original's length and its CRC-32 (big-endian).
MAGIC = b"\x89WCZ\r\n\x1a\n"
STORED, DEFLATED = 0, 1
HEADER_BYTES = len(MAGIC) + 1 + 4 + 4


def _header(method: int, original: bytes) -> bytes:
    return (MAGIC + bytes([method]) + len(original).to_bytes(4, "big")
            + zlib.crc32(original).to_bytes(4, "big"))


def encode(value: bytes) -> bytes:
    """What goes down for `value`: deflated when it is large and that saves bytes; wrapped as
    STORED when it merely starts like a header (so it is never misread); else itself."""
    if len(value) >= THRESHOLD:
        packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
        body = packer.compress(value) + packer.flush()
        if HEADER_BYTES + len(body) < len(value):
            return _header(DEFLATED, value) + body
    if value.startswith(MAGIC):
        return _header(STORED, value) + value
    return value


def decode(stored: bytes) -> bytes:
    """The original of `stored`: anything that is not a well-formed header whose length and
    CRC-32 match what follows is plain data, returned as it is."""
    if len(stored) < HEADER_BYTES or not stored.startswith(MAGIC):
        return stored
    method = stored[len(MAGIC)]
    length = int.from_bytes(stored[len(MAGIC) + 1:len(MAGIC) + 5], "big")
    crc = int.from_bytes(stored[len(MAGIC) + 5:HEADER_BYTES], "big")
    body = stored[HEADER_BYTES:]
    if method == STORED:
        original = body
    elif method == DEFLATED and length <= MAX_VALUE_BYTES:
        unpacker = zlib.decompressobj(-15)
        try:
            original = unpacker.decompress(body, length + 1)  # bounded: no inflation bomb
        except zlib.error:
            return stored
        if not unpacker.eof or unpacker.unused_data or unpacker.unconsumed_tail:
            return stored
    else:
        return stored
    if len(original) != length or zlib.crc32(original) != crc:
        return stored
    return original


def _check_key(key: str) -> None:
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise Err(Error.INVALID_KEY) from None
    if not 0 < size <= MAX_KEY_BYTES:
        raise Err(Error.INVALID_KEY)


class Cache(exports.Cache):
    """The layer above sees the contract unchanged: the key is checked first, then the value's
    size (before compression: a 2 MiB value that would deflate to 2 KB is still too large);
    errors from below pass up as they are."""

    def set(self, key: str, value: bytes, ttl: int | None) -> None:
        _check_key(key)
        if len(value) > MAX_VALUE_BYTES:
            raise Err(Error.VALUE_TOO_LARGE)
        below.set(key, encode(value), ttl)

    def get(self, key: str) -> bytes:
        _check_key(key)
        return decode(below.get(key))

    def delete(self, key: str) -> None:
        _check_key(key)
        below.delete(key)
