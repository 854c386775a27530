"""A misbehaving guest, for testing what the host does when a guest goes wrong.

    loop                 never returns (for --timeout)
    allocate MIB         allocates MIB mebibytes and touches them (for --max-memory)
    raise                raises an uncaught Python exception (a trap)
    exit CODE            exits with CODE through wasi:cli/exit
    flood COUNT          sets COUNT values of 1 MiB in a tight loop, then reads one back
    pulse N DELAY_MS     up to N rounds of set + get of its own key, one line per call
                         (`set pulse-3 ok`, `get pulse-3 error unavailable`), DELAY_MS apart;
                         stops early once the key `pulse-stop` exists (for outage tests)
"""

import sys
import time

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import cache


def flood(count: int) -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    for i in range(count):
        cache.set(f"flood-{i % 4}", value, None)
    assert cache.get("flood-0") == value
    print(f"flooded {count} MiB")


def error_name(err: Err) -> str:
    return err.value.name.lower().replace("_", "-")


def pulse(rounds: int, delay_ms: int) -> None:
    for i in range(rounds):
        key, value = f"pulse-{i}", f"value-{i}".encode()
        try:
            cache.set(key, value, None)
            print(f"set {key} ok", flush=True)
        except Err as err:
            print(f"set {key} error {error_name(err)}", flush=True)
        try:
            got = cache.get(key)
            print(f"get {key} {'ok' if got == value else 'wrong'}", flush=True)
        except Err as err:
            print(f"get {key} error {error_name(err)}", flush=True)
        try:
            cache.get("pulse-stop")
            print(f"stopped after {i + 1} rounds", flush=True)
            return
        except Err:
            pass
        time.sleep(delay_ms / 1000)
    print(f"done {rounds} rounds", flush=True)


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
        elif command == "pulse":
            pulse(int(rest[0]), int(rest[1]))
        else:
            print(__doc__, file=sys.stderr)
            raise Err(None)
