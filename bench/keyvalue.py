"""wasi:keyvalue against the cache interface's same call and the raw clients, in one run.

    .venv/bin/python -m bench.keyvalue                  # memory and Redis, 5 rounds
    .venv/bin/python -m bench.keyvalue --rounds 9 --only memory
    .venv/bin/python -m bench.keyvalue --smoke          # CI: tiny counts, no timing asserted

`python -m bench` runs it too. Each round, for each operation: one `wasmcache run` of
examples/kv_bench_guest (world cache-keyvalue-command) times the keyvalue call and the cache
interface's same call in one process, their loops interleaved in ten slices (which starts
alternates from round to round), so both meet the same moments of a shared machine; then the
raw client's loop runs in a fresh process (`bench.raw`). The cache interface has no
batches: a keyvalue batch of N keys is compared with N cache calls. Ratios are medians of the
rounds' paired ratios, with their lowest and highest; the load average of the machine before
and after is part of the result. Writes bench/results/keyvalue.json and keyvalue.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench.run import BACKENDS, MIB, RESULTS, ROOT, build_guest, run_guest, time_raw_fresh

#: (operation, value size, iterations, keys per call, the cache interface's same call or None)
OPERATIONS = [
    ("get", 100, 2000, 1, "cache.get"),
    ("get", MIB, 20, 1, "cache.get"),
    ("set", 100, 2000, 1, "cache.set"),
    ("set", MIB, 20, 1, "cache.set"),
    ("exists", 100, 2000, 1, None),
    ("increment", 0, 2000, 1, None),
    ("get-many", 100, 100, 100, "cache.get-many"),
    ("get-many", MIB, 5, 4, "cache.get-many"),
    ("set-many", 100, 100, 100, "cache.set-many"),
    ("set-many", MIB, 5, 4, "cache.set-many"),
    ("set-many", 1024, 10, 2000, "cache.set-many"),
]
DEFAULT_BACKENDS = ("memory", "Redis")


def _spec(name: str, size: int, iterations: int, batch: int) -> str:
    return f"{name}:{size}:{iterations}:{batch}"


def compare(tmp: Path, rounds: int = 5, smoke: bool = False,
            only: tuple[str, ...] = DEFAULT_BACKENDS, env: dict[str, str] | None = None) -> dict:
    """Paired rounds of keyvalue, cache and raw per operation and backend (memory, Redis)."""
    env = env or {"WASMCACHE_FAST_PATH": os.environ.get("WASMCACHE_FAST_PATH", "1")}
    guest = build_guest("kv_bench_guest", world="cache-keyvalue-command")
    result: dict = {"rounds": rounds, "smoke": smoke, "cores": os.cpu_count(),
                    "load_before": os.getloadavg(), "backends": {}, "fast_path": env}
    for label, _scheme, url_of in BACKENDS:
        if label not in only:
            continue
        url = url_of(tmp)
        rows = []
        for op, size, iterations, batch, cache_name in OPERATIONS:
            if smoke:
                iterations, batch = min(iterations, 2), min(batch, 3)
            kv_spec = _spec(f"kv.{op}", size, iterations, batch)
            cache_spec = cache_name and _spec(cache_name, size, iterations, batch)
            times: dict[str, list[float]] = {"kv": [], "cache": [], "raw": []}
            for round_ in range(rounds):
                pair = [kv_spec] if cache_spec is None else (
                    [kv_spec, cache_spec] if round_ % 2 == 0 else [cache_spec, kv_spec])
                for line in run_guest(guest, url, ["~".join(pair)], env)[0]:
                    side = "kv" if line["op"].startswith("kv.") else "cache"
                    times[side].append(line["ns"] / line["iterations"] / 1e9)
                times["raw"].append(time_raw_fresh(label, tmp, op, size, iterations, batch))
            rows.append(_row(op, size, batch, times))
        result["backends"][label] = rows
        print(f"bench.keyvalue: {label} done", flush=True)
    result["load_after"] = os.getloadavg()
    return result


def _row(op: str, size: int, batch: int, times: dict[str, list[float]]) -> dict:
    def ratios(a: str, b: str) -> list[float]:
        return [x / y for x, y in zip(times[a], times[b], strict=True)]

    row = {"op": op, "size": size, "batch": batch,
           **{f"{side}_s": statistics.median(values) for side, values in times.items()
              if values},
           "raw_over_kv": statistics.median(ratios("raw", "kv")),
           "raw_over_kv_rounds": [min(ratios("raw", "kv")), max(ratios("raw", "kv"))]}
    if times["cache"]:
        row["kv_over_cache"] = statistics.median(ratios("kv", "cache"))
        row["kv_over_cache_rounds"] = [min(ratios("kv", "cache")), max(ratios("kv", "cache"))]
    return row


def _size(size: int) -> str:
    if size >= MIB:
        return f"{size // MIB} MiB"
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def markdown(result: dict) -> str:
    before, after = result["load_before"], result["load_after"]
    lines = [f"wasi:keyvalue against the cache interface's same call and the raw client: "
             f"medians of {result['rounds']} paired rounds (kv / cache: both loops interleaved "
             f"in one guest process per round; a batch of N keys against N cache calls). "
             f"Load average "
             f"before {before[0]:.1f} / {before[1]:.1f} / {before[2]:.1f}, after "
             f"{after[0]:.1f} / {after[1]:.1f} / {after[2]:.1f} on {result['cores']} cores.", "",
             "| backend | op | value | keys/call | keyvalue µs/call | cache µs | kv / cache | "
             "per round | raw µs/call | raw / kv |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, rows in result["backends"].items():
        for row in rows:
            cache = f"{row['cache_s'] * 1e6:,.1f}" if "cache_s" in row else "—"
            ratio = f"{row['kv_over_cache']:.2f}" if "kv_over_cache" in row else "—"
            spread = ("{:.2f}–{:.2f}".format(*row["kv_over_cache_rounds"])
                      if "kv_over_cache" in row else "")
            size = "—" if row["op"] == "increment" else _size(row["size"])
            lines.append(f"| {label} | {row['op']} | {size} | {row['batch']} | "
                         f"{row['kv_s'] * 1e6:,.1f} | {cache} | {ratio} | {spread} | "
                         f"{row['raw_s'] * 1e6:,.1f} | {row['raw_over_kv']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.keyvalue",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help="paired rounds (default 5)")
    parser.add_argument("--only", default=",".join(DEFAULT_BACKENDS),
                        help="comma-separated backends (memory, Redis)")
    parser.add_argument("--smoke", action="store_true", help="tiny counts (CI); no timing")
    parser.add_argument("--out", type=Path, default=RESULTS, help="result directory")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.smoke else 5)
    with tempfile.TemporaryDirectory(prefix="wasmcache-bench-kv-") as tmp:
        result = compare(Path(tmp), rounds, args.smoke, tuple(args.only.split(",")))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "keyvalue.json").write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    (args.out / "keyvalue.md").write_text(table)
    print(table)
    return result


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main() and None)
