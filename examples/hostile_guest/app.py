"""A misbehaving guest, for testing what the host does when a guest goes wrong.

    loop                 never returns (for --timeout)
    allocate MIB         allocates MIB mebibytes and touches them (for --max-memory)
    raise                raises an uncaught Python exception (a trap)
    exit CODE            exits with CODE through wasi:cli/exit
    flood COUNT          sets COUNT values of 1 MiB in a tight loop, then reads one back
"""

import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import cache


def flood(count: int) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    for i in range(count):
        cache.set(f"flood-{i % 4}", value, None)
    assert cache.get("flood-0") == value
    print(f"flooded {count} MiB")


class Run(exports.Run):
    def run(self) -> None:
        command, *rest = sys.argv[1:] or ["help"]
        if command == "loop":
            n = 0
            while True:
                n += 1
        elif command == "allocate":
            blocks = [bytearray(1024 * 1024) for _ in range(int(rest[0]))]
            print(f"allocated {len(blocks)} MiB")
        elif command == "raise":
            raise RuntimeError("the guest gave up")
        elif command == "exit":
            sys.exit(int(rest[0]))
        elif command == "flood":
            flood(int(rest[0]))
        else:
            print(__doc__, file=sys.stderr)
            raise Err(None)
