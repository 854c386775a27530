"""Guest-visible cache speed against the raw Python clients, per installed backend, in one run.

    .venv/bin/python -m bench            # full run (a few minutes on two cores)
    .venv/bin/python -m bench --smoke    # CI: tiny iteration counts, no timing asserted

The run ends with wasi:keyvalue against the cache interface's same call and the raw clients on
memory and Redis (`bench.keyvalue`, also runnable alone).

Writes bench/results/bench.json, bench/results/bench.md and bench/results/bench.png.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WASMCACHE = str(Path(sys.executable).with_name("wasmcache"))
MIB = 1024 * 1024
SIZES = {"100 B": 100, "1 MiB": MIB}
OPS = ("get", "set", "delete")
C_GUEST = "bench_guest_c"  # the same protocol in C: the host's overhead without CPython in front

sys.path.insert(0, str(ROOT / "examples"))
from build import build_c_component, build_guest  # noqa: E402

from bench import invocations  # noqa: E402
from bench.raw import RAW_CLIENTS  # noqa: E402

# bench label, scheme registered by a plugin, wasmcache URL factory (raw clients: bench.raw).
# `--only` takes labels or their first word ("disk" is every disk row). The default store is
# disk:// as a first run gets it; its other journal modes are measured beside it.
BACKENDS: list[tuple[str, str, Callable[[Path], str]]] = [
    ("memory", "memory", lambda t: "memory://bench"),
    ("disk (default)", "disk", lambda t: f"disk://{t / 'disk'}"),
    ("disk (journal_mode=persist)", "disk",
     lambda t: f"disk://{t / 'disk-persist'}?journal_mode=persist"),
    ("disk (journal_mode=wal)", "disk", lambda t: f"disk://{t / 'disk-wal'}?journal_mode=wal"),
    ("SQLite", "sqlite", lambda t: f"sqlite:///{t / 'guest.db'}"),
    ("PostgreSQL", "postgresql", lambda t: "postgresql://postgres@127.0.0.1:5432/test"),
    ("MariaDB", "mysql", lambda t: "mysql+pymysql://root@127.0.0.1:3306/test"),
    ("Redis", "redis", lambda t: "redis://127.0.0.1:6379/0"),
]


def time_raw_fresh(label: str, tmp: Path, op: str, size: int, iterations: int,
                   batch: int = 1) -> float:
    """Seconds per call of the raw loop, timed in a fresh process (see bench.raw)."""
    done = subprocess.run([sys.executable, "-m", "bench.raw", label, str(tmp), op, str(size),
                           str(iterations), str(batch)], cwd=ROOT, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise RuntimeError(f"raw {label} {op} failed: {done.stderr.strip()[-500:]}")
    return float(done.stdout)


# ---- the guest -------------------------------------------------------------------------

def run_guest(guest: Path, url: str, specs: list[str], env: dict[str, str],
              wasmcache: str = WASMCACHE, components: tuple[Path, ...] = ()
              ) -> tuple[list[dict], float, int]:
    """Run the bench guest (with `wasmcache`, this checkout's by default; its cache served by
    `components` when given); its JSON lines, the wall time and the host's peak RSS (KiB)."""
    layers = [arg for path in components for arg in ("--cache-component", str(path))]
    command = [wasmcache, "run", "--backend", url, "--namespace",
               f"bench-{uuid.uuid4().hex[:8]}", *layers, str(guest), *specs]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **env}, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()  # small outputs: no pipe deadlock
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"guest failed on {url}: {err.strip()[-500:]}")
    rss = usage.ru_maxrss
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")], wall, rss


def peak_rss_kib(guest: Path, url: str, specs: list[str], env: dict[str, str]) -> int:
    """Peak RSS of one warm `wasmcache run` process (from wait4's resource usage)."""
    return run_guest(guest, url, specs, env)[2]


def startup(guest: Path, tmp: Path, env: dict[str, str], smoke: bool) -> dict[str, float]:
    """Cold (fresh compile cache) vs warm start, and Python's own start for reference."""
    cache = tmp / "compile-cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**env, "WASMCACHE_COMPILE_CACHE": str(cache)}
    if smoke:  # a cold compile takes seconds: CI only checks that the warm path runs
        env["WASMCACHE_COMPILE_CACHE"] = os.environ.get("WASMCACHE_COMPILE_CACHE", "on")
    _, cold, _ = run_guest(guest, "memory://", ["empty:0:1"], env)
    warm = min(run_guest(guest, "memory://", ["empty:0:1"], env)[1] for _ in range(3))
    python = min(_wall([sys.executable, "-c", "pass"]) for _ in range(3))
    imports = min(_wall([sys.executable, "-c", "import wasmcache.cli"]) for _ in range(3))
    return {"cold_s": float("nan") if smoke else cold, "warm_s": warm, "python_start_s": python,
            "python_import_wasmcache_s": imports, "warm_over_python_s": warm - python,
            "cold_over_warm": float("nan") if smoke else cold / warm}


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


# ---- the run ---------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts (CI); no timing")
    parser.add_argument("--rounds", type=int, default=None,
                        help="back-to-back guest/raw pairs per operation (default 5; 1 with "
                             "--smoke); medians are reported")
    parser.add_argument("--only", metavar="LABELS", default=None,
                        help="comma-separated backends to run, e.g. Redis,SQLite (a label "
                             "or its first word: disk is every disk row)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="result directory")
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    small, large = (3, 2) if args.smoke else (2000, 20)
    rounds = args.rounds or (1 if args.smoke else 5)
    from wasmcache.plugins import get_registry

    schemes = set(get_registry().backends)
    guest = build_guest("bench_guest")
    env = {"WASMCACHE_FAST_PATH": os.environ.get("WASMCACHE_FAST_PATH", "1")}
    results: dict = {"smoke": args.smoke, "rounds": rounds, "backends": {}, "skipped": {},
                     "fast_path": env}
    specs = [f"{op}:{size}:{small if size < 1000 else large}"
             for size in SIZES.values() for op in OPS]
    with tempfile.TemporaryDirectory(prefix="wasmcache-bench-") as tmp_name:
        tmp = Path(tmp_name)
        results["floor"] = guest_floor(guest, tmp, env, small, large, rounds)
        beside = c_guest(tmp, env, small, large, rounds, results) if (
            only is None or "memory" in only) else None
        active: dict[str, str] = {}  # label -> URL
        for label, scheme, url_of in BACKENDS:
            if only is not None and not {label, label.split()[0]} & only:
                continue
            if scheme not in schemes:
                results["skipped"][label] = f"no plugin registers {scheme}://"
                print(f"bench: skipping {label}: no installed plugin registers {scheme}://")
                continue
            try:
                RAW_CLIENTS[label](tmp).close()  # a server that is down skips, loudly
            except Exception as exc:  # noqa: BLE001
                results["skipped"][label] = f"raw client failed: {exc}"
                print(f"bench: skipping {label}: {type(exc).__name__}: {exc}")
                continue
            active[label] = url_of(tmp)
        guests = {label: [(guest, results["floor"])] for label in active}
        if "memory" in guests and beside is not None:
            guests["memory"].append(beside)  # the C guest right after the Python one
        samples = {label: new_samples(specs, len(guests[label])) for label in active}
        for round_ in range(rounds):  # every backend once per round: rounds pair up across them
            for label, url in list(active.items()):
                try:
                    measure_round(guests[label], url, label, tmp, specs, env, samples[label])
                except Exception as exc:  # noqa: BLE001
                    results["skipped"][label] = f"guest run failed: {exc}"
                    print(f"bench: skipping {label}: {exc}")
                    del active[label]
            print(f"bench: round {round_ + 1} of {rounds} done", flush=True)
        for label, url in active.items():
            rows = rows_of(samples[label], [floor for _, floor in guests[label]])
            results["backends"][label] = {"url": url.split("@")[-1], "rows": rows[0]}
            if len(rows) > 1:
                results["c_guest"] = {"url": url, "rows": rows[1],
                                      "size_bytes": beside[0].stat().st_size,
                                      "floor": beside[1]}
        results["floor"].update(host_overhead(results["backends"].get("memory"),
                                              results["floor"]))
        if "c_guest" in results:
            results["c_guest"]["floor"].update(host_overhead(results["c_guest"],
                                                             results["c_guest"]["floor"]))
        results["versus_sqlite"] = versus_sqlite(results)
        if only is None or "memory" in only:
            results["lru_cache"] = served_by_lru(guest, env, specs, rounds, results)
        results["guest_size_bytes"] = guest.stat().st_size
        from bench import keyvalue

        kv_backends = tuple(label for label in keyvalue.DEFAULT_BACKENDS
                            if label in results["backends"])
        if kv_backends:
            results["keyvalue"] = keyvalue.compare(tmp, rounds, args.smoke, kv_backends, env)
        results["startup"] = startup(guest, tmp, env, args.smoke)
        results["peak_rss_kib"] = 0 if args.smoke else peak_rss_kib(
            guest, "memory://", [f"get:{MIB}:{large}", f"set:{MIB}:{large}"], env)
    results["invocations"] = invocations.measure(args.smoke, args.rounds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown(results)
    if "keyvalue" in results:
        from bench.keyvalue import markdown as keyvalue_markdown

        table += "\n" + keyvalue_markdown(results["keyvalue"])
    (args.out / "bench.md").write_text(table)
    print(table)
    chart(results, args.out / "bench.png")
    return results


#: per spec ("get:100:2000"): each guest's seconds per call, then the raw client's, one per round
Samples = dict[str, tuple[list[list[float]], list[float]]]


def new_samples(specs: list[str], guests: int) -> Samples:
    return {spec: ([[] for _ in range(guests)], []) for spec in specs}


def measure_round(guests: list[tuple[Path, dict]], url: str, label: str, tmp: Path,
                  specs: list[str], env: dict[str, str], samples: Samples) -> None:
    """One round: every spec as a run of each guest followed at once by the raw loop.

    Loopback and disk latencies on a shared VM switch between regimes that last seconds (four
    back-to-back rounds of raw redis-py GET measured 29-107 µs), so each spec's guest run is
    followed at once by the raw loop, each in a fresh process, and the ratio is the median of
    these paired ratios. A second guest (the C guest on memory) runs right after the first.
    main() runs one round of every backend before the next round, so backends measured in the
    same round pair up too (`versus_sqlite`).
    """
    for spec in specs:
        for (guest, _floor), times in zip(guests, samples[spec][0], strict=True):
            line, = run_guest(guest, url, [spec], env)[0]
            times.append(line["ns"] / line["iterations"] / 1e9)
        samples[spec][1].append(time_raw_fresh(label, tmp, line["op"], line["size"],
                                               line["iterations"]))


def rows_of(samples: Samples, floors: list[dict]) -> list[list[dict]]:
    """Medians of the rounds, the paired guest/raw ratios and the ceiling, per spec; one list
    of rows per guest. A second guest's rows also hold "over_first": the median of its time /
    the first guest's time per round, and their lowest and highest."""
    tables = []
    for index, floor in enumerate(floors):
        rows = []
        for spec, (guest_s, raw_s) in samples.items():
            op, size, _ = spec.split(":")
            times = guest_s[index]
            per_round = [r / g for g, r in zip(times, raw_s, strict=True)]
            raw_median = statistics.median(raw_s)
            floor_s = floor.get(f"{op}{'_1mib' if int(size) == MIB else ''}_s")
            row = {"op": op, "size": int(size), "guest_s": statistics.median(times),
                   "raw_s": raw_median, "ratio": statistics.median(per_round),
                   "ratio_rounds": [min(per_round), max(per_round)],
                   "guest_rounds_s": times,
                   "ceiling": raw_median / (raw_median + floor_s)
                   if floor_s is not None else None}
            if index:
                over = [t / f for t, f in zip(times, guest_s[0], strict=True)]
                row["over_first"] = statistics.median(over)
                row["over_first_rounds"] = [min(over), max(over)]
            rows.append(row)
        tables.append(rows)
    return tables


def guest_floor(guest: Path, tmp: Path, env: dict[str, str], small: int, large: int,
                rounds: int) -> dict:
    """The guest's own loop-plus-bindings floor: the same guest, calls answered in wasm.

    The guest is nested with `floor_adapter_wat` instead of the real adapter (`bench.floor`),
    so its calls cross the same bindings and the same canonical-ABI lifts but never reach the
    host (a get returns the last value set). Keys: "delete_s", "get_s", "set_s" (100 B) and
    "get_1mib_s", "set_1mib_s"; and "empty_callback_delete_s", the guest's delete against an
    empty host callback (bench.empty_callback): the floor plus wasmtime's and ctypes' share of
    a host call.
    """
    runs: dict[str, list[float]] = {}
    for _ in range(rounds):
        done = subprocess.run([sys.executable, "-m", "bench.floor", str(guest), "empty:0:10000",
                               f"delete:100:{small}", f"set:100:{small}", f"get:100:{small}",
                               f"set:{MIB}:{large}", f"get:{MIB}:{large}"], cwd=ROOT,
                              capture_output=True, text=True, env={**os.environ, **env},
                              check=True)
        lines = [json.loads(line) for line in done.stdout.splitlines()]
        for line in lines:
            size = "_1mib" if line["size"] == MIB else ""
            name = "empty_loop_s" if line["op"] == "empty" else f"{line['op']}{size}_s"
            runs.setdefault(name, []).append(line["ns"] / line["iterations"] / 1e9)
        done = subprocess.run([sys.executable, "-m", "bench.empty_callback", str(guest),
                               f"delete:100:{small}"], cwd=ROOT, capture_output=True,
                              text=True, env={**os.environ, **env}, check=True)
        line = json.loads(done.stdout)
        runs.setdefault("empty_callback_delete_s", []).append(
            line["ns"] / line["iterations"] / 1e9)
    return {name: statistics.median(times) for name, times in runs.items()}


def c_guest(tmp: Path, env: dict[str, str], small: int, large: int, rounds: int,
            results: dict) -> tuple[Path, dict] | None:
    """examples/bench_guest_c and its floor (the same floor adapter), to be measured on memory
    beside the Python guest; None (and a note) when the C toolchain is missing.

    Its floor is a few tens of ns where the Python guest's is 1-2 µs, so what it pays beyond
    the floor is the host's own overhead per call, without componentize-py in front.
    """
    try:
        guest = build_c_component(C_GUEST)
    except RuntimeError as exc:
        results["skipped"]["C guest"] = str(exc).splitlines()[0]
        print(f"bench: skipping the C guest: {str(exc).splitlines()[0]}")
        return None
    return guest, guest_floor(guest, tmp, env, small, large, rounds)


def served_by_lru(guest: Path, env: dict[str, str], specs: list[str], rounds: int,
                  results: dict) -> dict | None:
    """Each bench guest's calls served inside WebAssembly by examples/lru_cache (composed with
    `--cache-component`: no host call at all) against the same calls served by the host's
    memory://, as back-to-back pairs of runs; medians, and memory time / lru time per pair."""
    try:
        lru, guests = build_c_component("lru_cache"), {"Python guest": guest}
        guests["C guest"] = build_c_component(C_GUEST)
    except RuntimeError as exc:
        results["skipped"]["lru_cache"] = str(exc).splitlines()[0]
        print(f"bench: skipping lru_cache: {str(exc).splitlines()[0]}")
        return None
    out: dict = {"size_bytes": lru.stat().st_size, "guests": {}}
    for name, path in guests.items():
        times: dict[str, dict[str, list[float]]] = {spec: {"lru": [], "memory": []}
                                                   for spec in specs}
        for _ in range(rounds):
            for spec in specs:
                for served, layers in (("lru", (lru,)), ("memory", ())):
                    line, = run_guest(path, "memory://bench", [spec], env,
                                      components=layers)[0]
                    times[spec][served].append(line["ns"] / line["iterations"] / 1e9)
        out["guests"][name] = [
            {"op": spec.split(":")[0], "size": int(spec.split(":")[1]),
             "lru_s": statistics.median(t["lru"]), "memory_s": statistics.median(t["memory"]),
             "memory_over_lru": statistics.median(
                 [m / n for n, m in zip(t["lru"], t["memory"], strict=True)])}
            for spec, t in times.items()]
    print("bench: lru_cache against memory:// done", flush=True)
    return out


def lru_rows(results: dict) -> list[str]:
    """The table of `served_by_lru`."""
    lru = results.get("lru_cache")
    if not lru:
        return []
    lines = ["", "The same calls served inside WebAssembly by examples/lru_cache "
             f"({lru['size_bytes'] / 1e3:.0f} KB, `--cache-component`: no host call) and by the "
             "host's memory:// backend, µs per call (medians of back-to-back pairs of runs); "
             "memory/lru = how many times longer the host takes.", "",
             "| guest | op | size | lru_cache µs/call | memory:// µs/call | memory/lru |",
             "|---|---|---|---:|---:|---:|"]
    for name, rows in lru["guests"].items():
        for row in rows:
            size = "1 MiB" if row["size"] > 1000 else f"{row['size']} B"
            lines.append(f"| {name} | {row['op']} | {size} | {_fmt_small(row['lru_s'])} | "
                         f"{_fmt_small(row['memory_s'])} | {row['memory_over_lru']:.1f} |")
    return lines


def host_overhead(memory: dict | None, floor: dict) -> dict:
    """What the host adds to a small call on memory, against the floor, plus the plain-Python
    cost of the same `GuestSession.delete` (the rest is wasmtime's host call and ctypes).
    `memory` holds one guest's rows on memory, `floor` that guest's floor."""
    if not memory:
        return {}
    delete = next(r for r in memory["rows"] if r["op"] == "delete" and r["size"] == 100)
    from wasmcache import GuestSession
    from wasmcache.backends.memory import MemoryBackend

    host = GuestSession(MemoryBackend(), "floor")
    start = time.perf_counter_ns()
    for _ in range(10000):
        host.delete("bench-delete-100")
    host_python = (time.perf_counter_ns() - start) / 1e4 / 1e9
    overhead = delete["guest_s"] - floor["delete_s"]
    per_op = {}
    for row in memory["rows"]:
        name = f"{row['op']}{'_1mib' if row['size'] == MIB else ''}"
        if f"{name}_s" in floor:
            per_op[name] = row["guest_s"] - floor[f"{name}_s"]
    empty_callback = floor["empty_callback_delete_s"]
    return {"guest_delete_s": delete["guest_s"], "host_overhead_s": overhead,
            "overhead_over_floor": overhead / floor["delete_s"],
            "wasmtime_call_s": empty_callback - floor["delete_s"],
            "our_python_s": delete["guest_s"] - empty_callback,
            "host_python_delete_s": host_python, "host_overhead_by_op_s": per_op}


def versus_sqlite(results: dict) -> dict[str, dict[str, dict[str, float]]]:
    """Each backend's guest get and set of 100 B as a multiple of SQLite's: the median of the
    per-round ratios (both measured in the same round) and their range. The yardstick of the
    embedded default store (disk://) against sqlite://."""
    def rounds_100b(label: str) -> dict[str, list[float]]:
        return {row["op"]: row["guest_rounds_s"] for row in results["backends"][label]["rows"]
                if row["size"] == 100 and row["op"] in ("get", "set")}

    if "SQLite" not in results["backends"]:
        return {}
    sqlite = rounds_100b("SQLite")
    versus = {}
    for label in results["backends"]:
        if label == "SQLite":
            continue
        versus[label] = {}
        for op, seconds in rounds_100b(label).items():
            per_round = [s / q for s, q in zip(seconds, sqlite[op], strict=True)]
            versus[label][op] = {"median": statistics.median(per_round),
                                 "low": min(per_round), "high": max(per_round)}
    return versus


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def _fmt_small(seconds: float) -> str:
    """µs with three decimals: the C guest's floor is tens of ns."""
    return f"{seconds * 1e6:,.3f}"


def _row(label: str, row: dict) -> str:
    size = "1 MiB" if row["size"] > 1000 else f"{row['size']} B"
    mbps = f"{row['size'] / row['guest_s'] / 1e6:,.0f}" if row["op"] != "delete" else ""
    low, high = row["ratio_rounds"]
    ceiling = f"{row['ceiling']:.2f}" if row["ceiling"] is not None else ""
    return (f"| {label} | {row['op']} | {size} | {_fmt(row['guest_s'])} | "
            f"{_fmt(row['raw_s'])} | {row['ratio']:.2f} | {low:.2f}–{high:.2f} | "
            f"{ceiling} | {mbps} |")


def guests_side_by_side(results: dict) -> list[str]:
    """The Python guest and the C guest on memory, per call: guest, floor, host overhead, and
    C / Python (for the guest rows the median of the paired rounds' ratios, with their range;
    for floors and overheads the ratio of the medians)."""
    c_guest, memory = results.get("c_guest"), results["backends"].get("memory")
    if not c_guest or not memory:
        return []
    floors = (results["floor"], c_guest["floor"])
    lines = ["", f"The same calls from the Python guest (examples/bench_guest, componentize-py, "
             f"{results['guest_size_bytes'] / 1e6:.1f} MB) and from the C guest "
             f"(examples/{C_GUEST}, {c_guest['size_bytes'] / 1e3:.0f} KB) on memory, "
             "µs per call, medians; both guests ran in the same rounds. The C guest's floor is "
             "tens of ns, so what it pays is the host's own overhead.", "",
             "| on memory, µs/call | Python guest | C guest | C / Python |",
             "|---|---:|---:|---:|"]

    def line(what: str, python: float, c: float, ratio: str = "") -> str:
        return (f"| {what} | {_fmt_small(python)} | {_fmt_small(c)} | "
                f"{ratio or f'{c / python:.2f}'} |")

    for size, label in ((100, "100 B"), (MIB, "1 MiB")):
        suffix = "_1mib" if size == MIB else ""
        for op in OPS:
            if op == "delete" and size == MIB:
                continue
            python_row, c_row = (next(r for r in rows if r["op"] == op and r["size"] == size)
                                 for rows in (memory["rows"], c_guest["rows"]))
            low, high = c_row["over_first_rounds"]
            lines.append(line(f"guest {op} {label}", python_row["guest_s"], c_row["guest_s"],
                              f"{c_row['over_first']:.2f} ({low:.2f}–{high:.2f})"))
            lines.append(line(f"floor: {op} {label} answered in wasm",
                              *(floor[f"{op}{suffix}_s"] for floor in floors)))
            lines.append(line(f"host overhead of {op} {label} (guest − floor)",
                              *(floor["host_overhead_by_op_s"][f"{op}{suffix}"]
                                for floor in floors)))
    lines += [line("delete: wasmtime's host call + ctypes' callback entry (empty callback − "
                   "floor)", *(floor["wasmtime_call_s"] for floor in floors)),
              line("delete: wasmcache's Python (guest − empty callback)",
                   *(floor["our_python_s"] for floor in floors))]
    return lines


def markdown(results: dict) -> str:
    lines = [f"Medians of {results['rounds']} back-to-back guest/raw pairs; guest/raw = raw time "
             "/ guest time (guest throughput as a share of raw), per round: its lowest and "
             "highest pair; ceiling = the best ratio the guest's own floor allows "
             "(raw / (raw + floor)).", "",
             "| backend | op | size | guest µs/call | raw µs/call | guest/raw | per round | "
             "ceiling | guest MB/s |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    c_guest = results.get("c_guest")
    for label, data in results["backends"].items():
        for row in data["rows"]:
            lines.append(_row(label, row))
    if c_guest:
        lines += [_row("memory, C guest", row) for row in c_guest["rows"]]
    for label, why in results["skipped"].items():
        lines.append(f"| {label} | skipped: {why} | | | | | | | |")
    if results.get("versus_sqlite"):
        lines += ["", "Guest time per call of 100 B as a multiple of SQLite's: median of the "
                  "rounds' ratios (each backend measured in the same round), lowest–highest.",
                  "", "| backend | set / SQLite | get / SQLite |", "|---|---:|---:|"]
        for label, ratio in results["versus_sqlite"].items():
            cells = [f"{r['median']:.2f}× ({r['low']:.2f}–{r['high']:.2f})"
                     for r in (ratio["set"], ratio["get"])]
            lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    f, s = results.get("floor") or {}, results["startup"]
    lines += ["", "| measure | value |", "|---|---:|"]
    if f:
        lines += [f"| guest empty loop, µs/iteration | {_fmt(f['empty_loop_s'])} |",
                  f"| floor: guest delete answered in wasm, µs/call | {_fmt(f['delete_s'])} |",
                  f"| floor: guest set / get of 100 B answered in wasm, µs/call | "
                  f"{_fmt(f['set_s'])} / {_fmt(f['get_s'])} |",
                  f"| floor: guest set / get of 1 MiB answered in wasm, µs/call | "
                  f"{_fmt(f['set_1mib_s'])} / {_fmt(f['get_1mib_s'])} |"]
    if "host_overhead_s" in f:
        lines += [f"| guest delete on memory, µs/call | {_fmt(f['guest_delete_s'])} |",
                  f"| host overhead (guest delete − floor), µs | {_fmt(f['host_overhead_s'])} |",
                  f"| host overhead / floor | {f['overhead_over_floor']:.1f}× |",
                  f"| of which wasmtime's host call + ctypes' callback entry (an empty "
                  f"callback − floor), µs | {_fmt(f['wasmtime_call_s'])} |",
                  f"| of which wasmcache's Python (guest delete − empty callback), µs | "
                  f"{_fmt(f['our_python_s'])} |",
                  f"| the same GuestSession.delete in a tight plain-Python loop, µs | "
                  f"{_fmt(f['host_python_delete_s'])} |"]
        lines += [f"| host overhead of {name.replace('_1mib', ' 1 MiB')} on memory "
                  f"(guest − floor), µs | {_fmt(seconds)} |"
                  for name, seconds in f["host_overhead_by_op_s"].items() if name != "delete"]
    lines += [f"| cold start (fresh compile cache), s | {s['cold_s']:.2f} |",
              f"| warm start, s | {s['warm_s']:.3f} |",
              f"| cold / warm | {s['cold_over_warm']:.0f}× |",
              f"| Python start (`python -c pass`), s | {s['python_start_s']:.3f} |",
              f"| `import wasmcache.cli`, s | {s['python_import_wasmcache_s']:.3f} |",
              f"| warm `wasmcache run` minus Python start, s | {s['warm_over_python_s']:.3f} |",
              f"| peak RSS of the host (1 MiB get+set run), MiB | "
              f"{results['peak_rss_kib'] / 1024:.0f} |"]
    lines += guests_side_by_side(results)
    if "invocations" in results:
        lines += ["", "Invocations per second: one warm `Guest` against one `wasmcache run` "
                  "per invocation (medians of paired rounds; bench/invocations.py).", "",
                  invocations.markdown(results["invocations"]).rstrip("\n")]
    lines += lru_rows(results)
    return "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> None:
    """One PNG: guest vs raw throughput (calls/s, log scale) per backend, op and size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, guest, raw = [], [], []
    for label, data in results["backends"].items():
        for row in data["rows"]:
            size = "1M" if row["size"] > 1000 else "100"
            labels.append(f"{label}\n{row['op']} {size}")
            guest.append(1 / row["guest_s"])
            raw.append(1 / row["raw_s"])
    fig, ax = plt.subplots(figsize=(max(8, len(labels) * 0.45), 5))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], raw, width=0.4, label="raw Python client")
    ax.bar([x + 0.2 for x in xs], guest, width=0.4, label="guest through wasmcache")
    ax.set_yscale("log")
    ax.set_ylabel("calls per second (log)")
    ax.set_xticks(list(xs), labels, rotation=90, fontsize=7)
    ax.legend()
    ax.set_title("wasmcache: guest vs raw client throughput")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
