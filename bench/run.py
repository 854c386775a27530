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

sys.path.insert(0, str(ROOT / "examples"))
from build import build_guest  # noqa: E402

from bench.raw import RAW_CLIENTS  # noqa: E402

# bench label, scheme registered by a plugin, wasmcache URL factory (raw clients: bench.raw)
BACKENDS: list[tuple[str, str, Callable[[Path], str]]] = [
    ("memory", "memory", lambda t: "memory://bench"),
    ("disk", "disk", lambda t: f"disk://{t / 'disk'}"),
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
              wasmcache: str = WASMCACHE) -> tuple[list[dict], float, int]:
    """Run the bench guest (with `wasmcache`, this checkout's by default); its JSON lines, the
    wall time and the host's peak RSS (KiB)."""
    command = [wasmcache, "run", "--backend", url, "--namespace",
               f"bench-{uuid.uuid4().hex[:8]}", str(guest), *specs]
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
                        help="comma-separated backends to run, e.g. Redis,SQLite")
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
    with tempfile.TemporaryDirectory(prefix="wasmcache-bench-") as tmp_name:
        tmp = Path(tmp_name)
        results["floor"] = guest_floor(guest, tmp, env, small, large, rounds)
        for label, scheme, url_of in BACKENDS:
            if only is not None and label not in only:
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
            specs = [f"{op}:{size}:{small if size < 1000 else large}"
                     for size in SIZES.values() for op in OPS]
            try:
                results["backends"][label] = {
                    "url": url_of(tmp).split("@")[-1],
                    "rows": compare(guest, url_of(tmp), label, tmp, specs, env, rounds,
                                    results["floor"])}
                print(f"bench: {label} done", flush=True)
            except Exception as exc:  # noqa: BLE001
                results["skipped"][label] = f"guest run failed: {exc}"
                print(f"bench: skipping {label}: {exc}")
        results["floor"].update(host_overhead(results))
        from bench import keyvalue

        kv_backends = tuple(label for label in keyvalue.DEFAULT_BACKENDS
                            if label in results["backends"])
        if kv_backends:
            results["keyvalue"] = keyvalue.compare(tmp, rounds, args.smoke, kv_backends, env)
        results["startup"] = startup(guest, tmp, env, args.smoke)
        results["peak_rss_kib"] = 0 if args.smoke else peak_rss_kib(
            guest, "memory://", [f"get:{MIB}:{large}", f"set:{MIB}:{large}"], env)
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


def compare(guest: Path, url: str, label: str, tmp: Path, specs: list[str],
            env: dict[str, str], rounds: int, floor: dict) -> list[dict]:
    """Guest and raw timings of every spec, as `rounds` back-to-back pairs; medians.

    Loopback and disk latencies on a shared VM switch between regimes that last seconds (four
    back-to-back rounds of raw redis-py GET measured 29-107 µs), so each spec's guest run is
    followed at once by the raw loop, each in a fresh process, and the ratio is the median of
    these paired ratios.
    """
    guest_s: dict[str, list[float]] = {spec: [] for spec in specs}
    raw_s: dict[str, list[float]] = {spec: [] for spec in specs}
    for _ in range(rounds):
        for spec in specs:
            line, = run_guest(guest, url, [spec], env)[0]
            guest_s[spec].append(line["ns"] / line["iterations"] / 1e9)
            raw_s[spec].append(time_raw_fresh(label, tmp, line["op"], line["size"],
                                              line["iterations"]))
    rows = []
    for spec in specs:
        op, size, _ = spec.split(":")
        per_round = [r / g for g, r in zip(guest_s[spec], raw_s[spec], strict=True)]
        raw_median = statistics.median(raw_s[spec])
        floor_s = floor.get(f"{op}{'_1mib' if int(size) == MIB else ''}_s")
        rows.append({"op": op, "size": int(size), "guest_s": statistics.median(guest_s[spec]),
                     "raw_s": raw_median, "ratio": statistics.median(per_round),
                     "ratio_rounds": [min(per_round), max(per_round)],
                     "ceiling": raw_median / (raw_median + floor_s)
                     if floor_s is not None else None})
    return rows


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


def host_overhead(results: dict) -> dict:
    """What the host adds to a small call on memory, against the floor, plus the plain-Python
    cost of the same `GuestSession.delete` (the rest is wasmtime's host call and ctypes)."""
    memory = results["backends"].get("memory")
    floor = results["floor"]
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


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:,.1f}"


def markdown(results: dict) -> str:
    lines = [f"Medians of {results['rounds']} back-to-back guest/raw pairs; guest/raw = raw time "
             "/ guest time (guest throughput as a share of raw), per round: its lowest and "
             "highest pair; ceiling = the best ratio the guest's own floor allows "
             "(raw / (raw + floor)).", "",
             "| backend | op | size | guest µs/call | raw µs/call | guest/raw | per round | "
             "ceiling | guest MB/s |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for label, data in results["backends"].items():
        for row in data["rows"]:
            size = "1 MiB" if row["size"] > 1000 else f"{row['size']} B"
            mbps = f"{row['size'] / row['guest_s'] / 1e6:,.0f}" if row["op"] != "delete" else ""
            low, high = row["ratio_rounds"]
            ceiling = f"{row['ceiling']:.2f}" if row["ceiling"] is not None else ""
            lines.append(f"| {label} | {row['op']} | {size} | {_fmt(row['guest_s'])} | "
                         f"{_fmt(row['raw_s'])} | {row['ratio']:.2f} | {low:.2f}–{high:.2f} | "
                         f"{ceiling} | {mbps} |")
    for label, why in results["skipped"].items():
        lines.append(f"| {label} | skipped: {why} | | | | | | | |")
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
