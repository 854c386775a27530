"""Invocations per second: one warm `wasmcache.Guest` against one ``wasmcache run`` each time.

    .venv/bin/python -m bench.invocations             # about a minute; prints a table
    .venv/bin/python -m bench.invocations --smoke     # seconds; asserts nothing
    .venv/bin/python -m bench.invocations --small path/to/guest.wasm   # another small guest

For a small component (`SMALL_GUEST`, a WAT command guest that reads and writes one cache entry
and prints a line; ``--small`` swaps in another, e.g. the C guest) and the 18 MB componentize-py
bench guest (one set and get of 100 bytes, one JSON line), each round measures, back to back:
one ``wasmcache run`` per invocation (a new process each time), then `Guest.run` on one thread,
then on two threads sharing one `Guest`, all on memory:// with stdout captured by the host. It
reports the medians of the rounds' rates and of their paired ratios, the CPU seconds the
process used per wall second while the threads ran (how much of two cores they got), and as a
control the same two-thread scaling of SHA-256 hashing (which releases the GIL): what this
shared machine gives any two threads in that round.

Then the CLI's start-up: ``wasmcache run`` of a do-nothing component against
``python -c "import wasmtime.component; wasmtime.Engine()"``, alternating, as pairs.

The guests' files are given an mtime in the past, as a guest that is not being rebuilt has
(the compile cache re-hashes a file written in the last seconds), and the wasmcache sources
are byte-compiled first, as a pip install does (this environment may set
PYTHONDONTWRITEBYTECODE, which would make every start compile them from source).
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
GUESTS = ROOT / "tests" / "guests"
#: the small component; a .wat is compiled first, a .wasm taken as it is (see --small)
SMALL_GUEST = GUESTS / "visits.wat"
DO_NOTHING = GUESTS / "nothing.wat"
BIG_ARGS = ["get:100:1"]  # bench_guest: one set and one get of 100 bytes, one JSON line
WASMTIME_IMPORT = [sys.executable, "-c", "import wasmtime.component; wasmtime.Engine()"]


def _wasm(source: Path, out: Path) -> Path:
    """A copy of `source` in `out` (compiled from WAT when needed), dated a minute ago."""
    target = out / f"{source.stem}.wasm"
    if source.suffix == ".wat":
        import wasmtime

        target.write_bytes(wasmtime.wat2wasm(source.read_text()))
    else:
        target.write_bytes(source.read_bytes())
    past = time.time() - 60
    os.utime(target, (past, past))
    return target


def byte_compile() -> None:
    """Write the .pyc files of wasmcache and its plugins (a pip install writes them too)."""
    import wasmcache

    for package in [Path(wasmcache.__file__).parent,
                    *(ROOT / "plugins").glob("*/src/*")]:
        if package.is_dir():
            compileall.compile_dir(str(package), quiet=1)


# ---- the three ways to run a guest ---------------------------------------------------------

def cli_rate(guest: Path, args: list[str], count: int) -> float:
    """Invocations per second of one ``wasmcache run`` process each."""
    command = [WASMCACHE, "run", "-b", "memory://", str(guest), *args]
    start = time.perf_counter()
    for _ in range(count):
        done = subprocess.run(command, capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"{command}: {done.stderr.decode()[-500:]}")
    return count / (time.perf_counter() - start)


def guest_rate(guest: object, args: list[str], threads: int, seconds: float
               ) -> tuple[float, float]:
    """Invocations per second of `Guest.run` from `threads` threads for about `seconds`, and
    the process's CPU seconds per wall second meanwhile."""
    counts = [0] * threads
    failures: list[BaseException] = []
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        n = 0
        try:
            while time.perf_counter() < stop:
                if guest.run(args).status != 0:  # type: ignore[attr-defined]
                    raise RuntimeError("the guest failed")
                n += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        counts[slot] = n

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    cpu, start = time.process_time(), time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - start
    if failures:
        raise failures[0]
    return sum(counts) / wall, (time.process_time() - cpu) / wall


def control_rate(threads: int, seconds: float) -> float:
    """SHA-256s of 1 MiB per second from `threads` threads: hashlib releases the GIL, so its
    two-thread scaling is what this machine gives any two threads at that moment."""
    import hashlib

    data = b"\x5a" * (1 << 20)
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(slot: int) -> None:
        n = 0
        while time.perf_counter() < stop:
            hashlib.sha256(data)
            n += 1
        counts[slot] = n

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    start = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.perf_counter() - start)


def invocations(name: str, path: Path, args: list[str], rounds: int, cli_count: int,
                seconds: float) -> dict:
    """Rounds of CLI, one thread and two threads, back to back; medians and paired ratios.

    `Guest.run` is measured twice: on the shared pooled engine a `Guest` gets by default, and on
    an ordinary engine (`make_engine()`, what every `Guest` had before the pool), so the pool's
    effect is a paired ratio of the same run.
    """
    from wasmcache import Guest
    from wasmcache.runner import make_engine

    subprocess.run([WASMCACHE, "run", "-b", "memory://", str(path), *args],
                   capture_output=True, check=True)  # compile cache and plugin index warm
    rows: dict[str, list[float]] = {k: [] for k in (
        "cli_per_s", "guest_1t_per_s", "guest_2t_per_s", "guest_over_cli", "two_over_one",
        "cpu_1t", "cpu_2t", "control_two_over_one", "ordinary_1t_per_s", "ordinary_2t_per_s",
        "ordinary_two_over_one", "pooled_over_ordinary_1t", "pooled_over_ordinary_2t")}
    with Guest(path, "memory://") as guest, \
            Guest(path, "memory://", engine=make_engine()) as ordinary:
        for warm in (guest, ordinary):
            guest_rate(warm, args, 1, min(seconds, 0.2))
        for _ in range(rounds):
            cli = cli_rate(path, args, cli_count)
            one, cpu_one = guest_rate(guest, args, 1, seconds)
            two, cpu_two = guest_rate(guest, args, 2, seconds)
            one_o, _ = guest_rate(ordinary, args, 1, seconds)
            two_o, _ = guest_rate(ordinary, args, 2, seconds)
            control = control_rate(2, seconds / 2) / control_rate(1, seconds / 2)
            for key, value in (("cli_per_s", cli), ("guest_1t_per_s", one),
                               ("guest_2t_per_s", two), ("guest_over_cli", one / cli),
                               ("two_over_one", two / one), ("cpu_1t", cpu_one),
                               ("cpu_2t", cpu_two), ("control_two_over_one", control),
                               ("ordinary_1t_per_s", one_o), ("ordinary_2t_per_s", two_o),
                               ("ordinary_two_over_one", two_o / one_o),
                               ("pooled_over_ordinary_1t", one / one_o),
                               ("pooled_over_ordinary_2t", two / two_o)):
                rows[key].append(value)
    result: dict = {"guest": name, "path": str(path), "args": args, "rounds": rounds}
    for key, values in rows.items():
        result[key] = statistics.median(values)
        if key in ("guest_over_cli", "two_over_one", "control_two_over_one",
                   "ordinary_two_over_one", "pooled_over_ordinary_1t",
                   "pooled_over_ordinary_2t"):
            result[f"{key}_range"] = [min(values), max(values)]
    return result


def startup(nothing: Path, pairs: int) -> dict:
    """``wasmcache run`` of a do-nothing component against wasmtime's own import, as pairs."""
    command = [WASMCACHE, "run", "-b", "memory://", str(nothing)]
    subprocess.run(command, capture_output=True, check=True)
    subprocess.run(WASMTIME_IMPORT, capture_output=True, check=True)
    cli_s, wasmtime_s = [], []
    for _ in range(pairs):
        for command_, times in ((command, cli_s), (WASMTIME_IMPORT, wasmtime_s)):
            start = time.perf_counter()
            subprocess.run(command_, capture_output=True, check=True)
            times.append(time.perf_counter() - start)
    ratios = [a / b for a, b in zip(cli_s, wasmtime_s, strict=True)]
    return {"pairs": pairs, "cli_s": statistics.median(cli_s),
            "wasmtime_s": statistics.median(wasmtime_s), "ratio": statistics.median(ratios),
            "ratio_range": [min(ratios), max(ratios)]}


def measure(smoke: bool = False, rounds: int | None = None,
            small: Path = SMALL_GUEST) -> dict:
    """Everything above in one run; the numbers bench/README.md describes."""
    sys.path.insert(0, str(ROOT / "examples"))
    from build import build_guest

    rounds = rounds or (1 if smoke else 5)
    cli_count, seconds, pairs = (1, 0.1, 2) if smoke else (5, 1.0, 21)
    byte_compile()
    with tempfile.TemporaryDirectory(prefix="wasmcache-invocations-") as tmp:
        out = Path(tmp)
        small_wasm = _wasm(small, out)
        big_wasm = _wasm(build_guest("bench_guest"), out)
        return {
            "smoke": smoke,
            "small": invocations(f"small component ({small.name}, "
                                 f"{small_wasm.stat().st_size:,} bytes)", small_wasm, [],
                                 rounds, cli_count, seconds),
            "big": invocations(f"18 MB Python guest (bench_guest, "
                               f"{big_wasm.stat().st_size / 1e6:.0f} MB)", big_wasm, BIG_ARGS,
                               rounds, cli_count, seconds),
            "startup": startup(_wasm(DO_NOTHING, out), pairs),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        }


def markdown(results: dict) -> str:
    lines = ["| guest | `wasmcache run`/s | `Guest.run`/s, 1 thread | 2 threads | "
             "1 thread / CLI | 2 threads / 1 thread | CPU per wall s, 1 / 2 threads | "
             "control: 2 / 1 hashing threads |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in ("small", "big"):
        r = results[key]
        low, high = r["guest_over_cli_range"]
        low2, high2 = r["two_over_one_range"]
        low3, high3 = r["control_two_over_one_range"]
        lines.append(f"| {r['guest']} | {r['cli_per_s']:,.1f} | {r['guest_1t_per_s']:,.0f} | "
                     f"{r['guest_2t_per_s']:,.0f} | {r['guest_over_cli']:,.0f}× "
                     f"({low:,.0f}–{high:,.0f}) | {r['two_over_one']:.2f}× "
                     f"({low2:.2f}–{high2:.2f}) | {r['cpu_1t']:.2f} / {r['cpu_2t']:.2f} | "
                     f"{r['control_two_over_one']:.2f}× ({low3:.2f}–{high3:.2f}) |")
    lines += ["", "| guest, `Guest.run` | ordinary engine, 1 thread/s | 2 threads/s | "
              "2 threads / 1 thread | pooled / ordinary, 1 thread | pooled / ordinary, "
              "2 threads |", "|---|---:|---:|---:|---:|---:|"]
    for key in ("small", "big"):
        r = results[key]
        cells = [f"{r[name]:.2f}× ({r[name + '_range'][0]:.2f}–{r[name + '_range'][1]:.2f})"
                 for name in ("ordinary_two_over_one", "pooled_over_ordinary_1t",
                              "pooled_over_ordinary_2t")]
        lines.append(f"| {r['guest']} | {r['ordinary_1t_per_s']:,.0f} | "
                     f"{r['ordinary_2t_per_s']:,.0f} | " + " | ".join(cells) + " |")
    s = results["startup"]
    lines += ["", "| start-up (medians of pairs) | value |", "|---|---:|",
              f"| `wasmcache run` of a do-nothing component, s | {s['cli_s']:.3f} |",
              "| `python -c \"import wasmtime.component; wasmtime.Engine()\"`, s | "
              f"{s['wasmtime_s']:.3f} |",
              f"| ratio, {s['pairs']} pairs (lowest–highest) | {s['ratio']:.2f}× "
              f"({s['ratio_range'][0]:.2f}–{s['ratio_range'][1]:.2f}) |",
              f"| machine: CPUs, load average at the end | {results['cpus']}, "
              f"{results['load_average'][0]:.1f} |"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.invocations",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; no timing")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5)")
    parser.add_argument("--small", type=Path, default=SMALL_GUEST,
                        help="the small guest, .wat or .wasm (default: %(default)s)")
    args = parser.parse_args(argv)
    results = measure(args.smoke, args.rounds, args.small)
    print(markdown(results))
    return results


if __name__ == "__main__":
    main()
