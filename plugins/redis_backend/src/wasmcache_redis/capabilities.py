"""wasi:keyvalue capabilities on Redis: INCRBY, a server-side CAS script, MGET, pipelines, SCAN.

`RedisCapabilities` is mixed into `RedisBackend` (it uses its ``_redis()``, ``_key()`` and
``options``). Every operation is atomic on the server where the interface asks for it:

* ``increment``: ``INCRBY`` (Redis keeps the decimal string, as the core's fallback does);
* ``compare_and_swap``: one Lua script (GET, compare, SET), which Redis runs atomically; one
  key, so it works on a cluster;
* ``get_many``: ``MGET`` (``mget_nonatomic`` on a cluster, which splits by slot);
* ``set_many`` / ``delete_many``: one pipeline / one ``DEL``;
* ``list_keys``: ``SCAN MATCH <namespace pattern> COUNT <limit>``, a few SCAN calls per page.
  The cursor is ``<node index>:<scan cursor>``; with hash tags (the default) a namespace lives
  in one slot, so on a cluster only the node that owns it is scanned. SCAN may repeat a key
  (never loses one that stayed), and never loads a namespace whole.
"""

from __future__ import annotations

from typing import Any

from redis import exceptions as rex
from wasmcache.capabilities import CounterOverflow, NotACounter

from .errors import unavailable_on_outage
from .keys import namespace_pattern, redis_key

#: KEYS[1]; ARGV: "1" when the key must be absent, else "0" and the expected value; new value.
CAS_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current then return 0 end
elseif current ~= ARGV[2] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"""
#: SCAN calls at most per list-keys page (each visits about `limit` hash buckets).
SCANS_PER_PAGE = 10


class RedisCapabilities:
    """The optional capabilities of the Backend protocol (wasmcache.capabilities)."""

    options: Any

    def _redis(self) -> Any:  # provided by RedisBackend
        raise NotImplementedError

    def _key(self, namespace: str, key: bytes) -> bytes:  # provided by RedisBackend
        raise NotImplementedError

    def increment(self, namespace: str, key: bytes, delta: int) -> int:
        try:
            with unavailable_on_outage():
                return int(self._redis().incrby(self._key(namespace, key), delta))
        except rex.ResponseError as exc:
            if "overflow" in str(exc):
                raise CounterOverflow("the increment would overflow a signed 64-bit integer"
                                      ) from None
            if "not an integer" in str(exc):
                raise NotACounter("the value is not a decimal 64-bit integer") from None
            raise

    def compare_and_swap(self, namespace: str, key: bytes, expected: bytes | None,
                         new: bytes) -> bool:
        args = ("1", b"", new) if expected is None else ("0", expected, new)
        with unavailable_on_outage():
            return bool(self._redis().eval(CAS_SCRIPT, 1, self._key(namespace, key), *args))

    def get_many(self, namespace: str, keys: list[bytes]) -> list[bytes | None]:
        names = [self._key(namespace, key) for key in keys]
        with unavailable_on_outage():
            client = self._redis()
            values = client.mget_nonatomic(names) if self.options.cluster else client.mget(names)
        return [None if value is None else bytes(value) for value in values]

    def set_many(self, namespace: str, items: list[tuple[bytes, bytes]]) -> None:
        with unavailable_on_outage():
            client = self._redis()
            pipe = client.pipeline() if self.options.cluster else client.pipeline(
                transaction=False)
            for key, value in items:
                pipe.set(self._key(namespace, key), value)
            pipe.execute()

    def delete_many(self, namespace: str, keys: list[bytes]) -> None:
        with unavailable_on_outage():
            self._redis().delete(*(self._key(namespace, key) for key in keys))

    def _scan_targets(self, namespace: str) -> list[Any]:
        """The clients to SCAN: the server, the node owning the namespace's slot, or (without
        hash tags) every primary of the cluster in a stable order."""
        client = self._redis()
        if not self.options.cluster:
            return [client]
        if self.options.hash_tag:
            node = client.get_node_from_key(self._key(namespace, b"x"))
            return [client.get_redis_connection(node)]
        primaries = sorted(client.get_primaries(), key=lambda node: node.name)
        return [client.get_redis_connection(node) for node in primaries]

    def list_keys(self, namespace: str, cursor: str | None,
                  limit: int) -> tuple[list[bytes], str | None]:
        index, scan_cursor = _parse_cursor(cursor)
        literal = redis_key(namespace, b"", self.options.prefix, self.options.hash_tag)
        pattern = namespace_pattern(namespace, self.options.prefix, self.options.hash_tag)
        found: list[bytes] = []
        with unavailable_on_outage():
            targets = self._scan_targets(namespace)
            if index >= len(targets):
                raise ValueError("cursor names a node this cluster does not have")
            for _ in range(SCANS_PER_PAGE):
                scan_cursor, names = targets[index].scan(scan_cursor, match=pattern,
                                                         count=limit)
                found += [bytes(name)[len(literal):] for name in names]
                if int(scan_cursor) == 0:
                    index, scan_cursor = index + 1, 0
                    if index == len(targets):
                        return found, None
                if len(found) >= limit:
                    break
        return found, f"{index}:{int(scan_cursor)}"


def _parse_cursor(cursor: str | None) -> tuple[int, int]:
    if cursor is None:
        return 0, 0
    index, _, scan = cursor.partition(":")
    return int(index), int(scan)  # ValueError: the guest gets "invalid cursor"
